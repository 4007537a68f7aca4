import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { fillFrenchRun } from './trainForm.ts';

// The same model (same size and seed), the same prompt, settings and seed give the same text in
// Node (the CLI on Dawn) and in the browser (the app's Worker on Chromium's WebGPU).
test('sampling is the same in Node and in the browser', async ({ page }) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'aya-det-')), 'm');
  const cli = (...args: string[]) => execFileSync('node', ['bin/aya-playground.js', ...args], { encoding: 'utf8' });
  cli('create', '--out', dir, '--size', 'tiny', '--seed', '31');
  const prompt = 'Toute personne a droit au repos';
  const node = JSON.parse(
    cli('sample', '--model', dir, '--lang', 'fra', '--prompt', prompt, '--max-new-tokens', '10', '--temperature', '0.9', '--top-k', '50', '--top-p', '0.9', '--seed', '7', '--json'),
  );
  expect(node.ids).toHaveLength(10);

  await page.goto('/#models');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const form = page.locator('#create');
  await form.getByLabel('Name').fill('det');
  await form.getByLabel('Seed').fill('31');
  await form.getByRole('radio', { name: /tiny/ }).check();
  await page.getByTestId('create-model').click();
  await expect(page.getByTestId('model-row').filter({ hasText: 'det' })).toBeVisible({ timeout: 60_000 });

  await page.getByRole('link', { name: 'Compare' }).click();
  await page.getByTestId('language').selectOption({ label: 'French' });
  await page.getByTestId('prompt-choice').selectOption({ label: 'Your own prompt…' });
  await page.getByTestId('own-prompt').fill(prompt);
  await page.getByRole('checkbox', { name: /det/ }).check();
  await page.getByLabel('Temperature').fill('0.9');
  await page.getByLabel('Top-k').fill('50');
  await page.getByLabel('Top-p').fill('0.9');
  await page.getByLabel('Max new tokens').fill('10');
  await page.getByLabel('Seed').fill('7');
  await page.getByTestId('generate').click();
  const column = page.getByTestId('compare-column').filter({ hasText: 'det' });
  await expect(column.getByTestId('stop-reason')).toBeVisible({ timeout: 120_000 });
  await expect(column.getByTestId('completion')).toHaveText(node.completion);
  await expect(column.getByTestId('token-count')).toContainText('10 tokens');
});

// Training too: the same model, data mix, schedule and seed give the same losses, bit for bit, in
// the CLI (Dawn) and in the tab (the Worker on Chromium's WebGPU). In process vs through `serve`:
// test/unit/contract.test.ts.
test('training is the same in Node and in the browser', async ({ page }) => {
  test.setTimeout(300_000);
  const base = mkdtempSync(join(tmpdir(), 'aya-det-train-'));
  const cli = (...args: string[]) => execFileSync('node', ['bin/aya-playground.js', ...args], { encoding: 'utf8' });
  cli('create', '--out', join(base, 'm'), '--size', 'tiny', '--seed', '32');
  const lines = cli('train', '--model', join(base, 'm'), '--out', join(base, 't'), '--langs', 'fra', '--steps', '3', '--batch', '2', '--seq', '16', '--lr', '0.003', '--seed', '5', '--eval-every', '0', '--checkpoint-every', '0', '--json')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const nodeLosses = lines.filter((l) => l.type === 'step').map((l) => l.point.loss);
  expect(nodeLosses).toHaveLength(3);

  await page.goto('/#models');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const form = page.locator('#create');
  await form.getByLabel('Name').fill('det-train');
  await form.getByLabel('Seed').fill('32');
  await form.getByRole('radio', { name: /tiny/ }).check();
  await page.getByTestId('create-model').click();
  const row = page.getByTestId('model-row').filter({ hasText: 'det-train' });
  await expect(row).toBeVisible({ timeout: 60_000 });
  const baseId = (await row.getAttribute('data-model-id'))!;
  await fillFrenchRun(page, { modelId: baseId, name: 'det-trained', steps: 3, evalEvery: 0, checkpointEvery: 0, lr: 0.003, seed: 5 });
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-outcome')).toHaveAttribute('data-status', 'done', { timeout: 240_000 });

  // The run's own record (what "Download the run" saves) holds the exact losses.
  await page.getByText('The numbers behind the charts').click();
  const downloaded = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download the run (JSON)' }).click();
  const run = JSON.parse(readFileSync((await (await downloaded).path())!, 'utf8'));
  expect(run.steps.map((p: { loss: number }) => p.loss)).toEqual(nodeLosses);
});
