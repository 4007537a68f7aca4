import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServe, type Served } from './serve.ts';

// Real models in the pool, as a person does it: export a zoo model to GGUF with the CLI, start
// `serve --gguf` with it (real llama.cpp through node-llama-cpp), open the printed URL, and compare
// the GGUF teacher with our engine's own model side by side; then connect an OpenAI-compatible
// server (the runtime's own /v1) from the Models panel and see its models listed as teachers.

let served: Served | null = null;
let url = '';
let output: string[] = [];

test.beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aya-e2e-gguf-'));
  const gguf = join(dir, 'romance-gguf.f32.gguf');
  execFileSync('node', ['bin/aya-playground.js', 'export', '--format', 'gguf', '--model', 'public/models/teacher-romance', '--out', gguf], { stdio: 'pipe' });
  served = await startServe(['--models', mkdtempSync(join(tmpdir(), 'aya-e2e-lib-')), '--gguf', gguf]);
  url = served.url;
  output = served.output;
});

test.afterAll(async () => {
  await served?.stop();
});

test('a GGUF teacher on the runtime and our model side by side in Compare; an OpenAI-compatible server connected as teachers', async ({ page }) => {
  test.setTimeout(600_000);
  expect(output.join('')).toMatch(/teacher:\s+gguf:romance-gguf\.f32 — command-r/);
  await page.goto(url);
  await expect(page.getByTestId('engine-status')).toContainText(/runtime 127\.0\.0\.1:\d+: .*swiftshader/i, { timeout: 120_000 });

  await page.locator('nav').getByRole('link', { name: 'Compare' }).click();
  await page.getByTestId('language').selectOption({ label: 'French' });
  await page.getByRole('checkbox', { name: /^teacher-romance/ }).check();
  const teacher = page.getByTestId('picker-teacher').filter({ hasText: 'romance-gguf' });
  await expect(teacher).toContainText('llama.cpp');
  await teacher.getByRole('checkbox').check();
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Max new tokens').fill('12');
  await page.getByTestId('generate').click();

  const columns = page.getByTestId('compare-column');
  await expect(columns).toHaveCount(2);
  for (let i = 0; i < 2; i++) await expect(columns.nth(i).getByTestId('stop-reason')).toBeVisible({ timeout: 180_000 });
  await expect(columns.nth(1).getByTestId('column-backend')).toContainText('llama.cpp (GGUF, on the runtime) · raw continuation');
  // Greedy decoding of the same weights: llama.cpp writes what our engine writes.
  const ours = (await columns.nth(0).getByTestId('completion').textContent())!;
  expect(ours.length).toBeGreaterThan(0);
  expect(await columns.nth(1).getByTestId('completion').textContent()).toBe(ours);
  await columns.nth(1).getByText('what the model was given').click();
  await expect(columns.nth(1).getByTestId('applied-prompt')).toContainText('<bos><lang:fra>');
  await page.screenshot({ path: 'test-results/screens/compare-gguf.png', fullPage: true });

  // Models: the GGUF teacher is listed; connect the runtime's own OpenAI-compatible API.
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  const card = page.getByTestId('teachers-card');
  await expect(card.getByTestId('teacher-row').filter({ hasText: 'romance-gguf' })).toContainText('command-r');
  const origin = new URL(url);
  await card.getByLabel('Name').fill('rt');
  await card.getByTestId('endpoint-url').fill(`${origin.origin}/v1`);
  await card.getByTestId('endpoint-key').fill(origin.searchParams.get('token')!);
  await card.getByTestId('endpoint-connect').click();
  await expect(card).toContainText(/Connected 'rt': \d+ models/);
  await expect(card.locator('[data-teacher-id="openai:rt/gguf:romance-gguf.f32"]')).toBeVisible();
  // A wrong key is refused with the server's own words.
  await card.getByLabel('Name').fill('wrong');
  await card.getByTestId('endpoint-key').fill('not-the-token');
  await card.getByTestId('endpoint-connect').click();
  await expect(card.getByTestId('endpoint-error')).toContainText(/HTTP 401/);
  await page.screenshot({ path: 'test-results/screens/teachers.png', fullPage: true });
});
