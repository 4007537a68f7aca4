import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { compareGreedyWithTeacher } from './compareTeacher.ts';

// ONNX teachers in the tab, as a person adds one: our ONNX export of a zoo model stands in for a Hub
// repo on a local server with the Hub's URL scheme (tree API, resolve URLs, HTTP Range). Look it up,
// download it with a progress bar, cancel and resume, see it kept across a reload, and sample it in
// Compare beside our own model — the same greedy text — with the execution provider that ran it.

const REPO = 'aya-playground/teacher-romance-onnx';
let hub: Server;
let hubUrl = '';
let exportDir = '';
const requests: string[] = [];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
}

test.beforeAll(async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'aya-e2e-onnx-')), 'repo');
  execFileSync('node', ['bin/aya-playground.js', 'export', '--format', 'onnx', '--model', 'public/models/teacher-romance', '--out', dir], { stdio: 'pipe' });
  exportDir = dir;
  const files = new Map(walk(dir).map((f) => [relative(dir, f), readFileSync(f)]));
  hub = createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const url = new URL(req.url!, 'http://x');
    requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    if (url.pathname === `/api/models/${REPO}/tree/main`) {
      const list = [{ type: 'directory', path: 'onnx' }, ...[...files].map(([path, b]) => ({ type: 'file', path, size: b.length }))];
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(list));
    }
    const prefix = `/${REPO}/resolve/main/`;
    const body = url.pathname.startsWith(prefix) ? files.get(decodeURIComponent(url.pathname.slice(prefix.length))) : undefined;
    if (!body) return void res.writeHead(404).end('not found');
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    res.writeHead(m ? 206 : 200, { 'Content-Length': body.length - start, ...(m ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    // The graph trickles in (16 KiB every 25 ms, ~2.5 s) so the progress bar and a cancel can be seen.
    if (!url.pathname.endsWith('.onnx')) return void res.end(body.subarray(start));
    let o = start;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      res.write(body.subarray(o, o + 16384));
      o += 16384;
      if (o >= body.length) {
        clearInterval(timer);
        res.end();
      }
    }, 25);
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', () => r()));
  hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
});

test.afterAll(() => {
  hub?.closeAllConnections();
  hub?.close();
});

test('an ONNX teacher from the Hub: download with progress, cancel and resume, kept across a reload, sampled in Compare beside our model', async ({ page }) => {
  test.setTimeout(420_000);
  await page.goto('/#models');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const card = page.getByTestId('onnx-card');
  await expect(card.getByTestId('onnx-none')).toBeVisible();
  await card.getByTestId('hub-url').fill(hubUrl);
  await card.getByTestId('hub-repo').fill(REPO);
  await card.getByTestId('hub-lookup').click();
  await expect(card.getByTestId('hub-file')).toContainText('onnx/model.onnx · 1.50 MiB');
  await expect(card.getByTestId('hub-name')).toHaveValue('teacher-romance-onnx');

  // Start, watch the bar move, cancel part-way: what arrived is kept and the button offers a resume.
  await card.getByTestId('hub-download').click();
  const progress = card.getByTestId('hub-progress');
  await expect(progress).toContainText(/onnx\/model\.onnx: 0\.[1-9]\d MiB of 1\.50 MiB/, { timeout: 30_000 });
  await page.screenshot({ path: 'test-results/screens/onnx-download.png', fullPage: true });
  await card.getByTestId('hub-cancel').click();
  await expect(card.getByTestId('onnx-error')).toContainText('Download cancelled: what arrived is kept');
  const resume = card.getByTestId('hub-download');
  await expect(resume).toHaveText(/Resume \(\d\.\d\d MiB kept\)/);
  await resume.click();
  await expect(progress).toContainText('resumed from');
  const row = card.getByTestId('onnx-row').filter({ hasText: 'teacher-romance-onnx' });
  await expect(row.getByTestId('onnx-size')).toHaveText(/^1\.\d\d MiB$/, { timeout: 120_000 });
  await expect(row.getByTestId('onnx-provider')).toContainText(/WebGPU \(onnxruntime-web\)|WASM \(onnxruntime-web, CPU\)/, { timeout: 120_000 });
  const provider = (await row.getByTestId('onnx-provider').textContent())!;
  // The resume asked only for the rest of the graph.
  expect(requests.filter((r) => r.includes('model.onnx') && r.includes('bytes='))).toHaveLength(1);
  await expect(page.getByTestId('teachers-card').locator('[data-teacher-id="onnx:teacher-romance-onnx"]')).toContainText('onnxruntime-web (ONNX)');

  // Kept across a reload, loaded again without a download.
  const before = requests.length;
  await page.reload();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await expect(card.getByTestId('onnx-row').filter({ hasText: 'teacher-romance-onnx' }).getByTestId('onnx-provider')).toContainText('onnxruntime-web', { timeout: 120_000 });
  expect(requests.length).toBe(before);
  await page.screenshot({ path: 'test-results/screens/onnx-teachers.png', fullPage: true });

  // Compare: our teacher-romance and its ONNX export, greedy: the same text.
  await compareGreedyWithTeacher(page, 'teacher-romance-onnx', `onnxruntime-web (ONNX) · raw continuation · ${provider.includes('WebGPU') ? 'WebGPU' : 'WASM'}`);
  await page.screenshot({ path: 'test-results/screens/compare-onnx.png', fullPage: true });

  // Delete: gone from the list and from storage (a reload does not bring it back).
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  await card.getByTestId('onnx-row').filter({ hasText: 'teacher-romance-onnx' }).getByTestId('onnx-delete').click();
  await expect(card.getByTestId('onnx-none')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('onnx-card').getByTestId('onnx-none')).toBeVisible();

  // A folder chosen from disk (the same export): kept and loaded under its folder's name.
  await card.getByTestId('onnx-folder-input').setInputFiles(exportDir);
  await expect(card.getByTestId('onnx-message')).toHaveText("Loaded 'repo'.", { timeout: 60_000 });
  await expect(card.getByTestId('onnx-row').filter({ hasText: 'repo' })).toContainText('a dropped folder');
});
