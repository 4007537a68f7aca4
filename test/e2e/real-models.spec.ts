import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServe, type Served } from './serve.ts';
import { compareGreedyWithTeacher } from './compareTeacher.ts';

// Real models in the pool, as a person does it: export a zoo model to GGUF with the CLI, start
// `serve --gguf` with it (real llama.cpp through node-llama-cpp), open the printed URL, and compare
// the GGUF teacher with our engine's own model side by side; then connect an OpenAI-compatible
// server (the runtime's own /v1) from the Models panel and see its models listed as teachers;
// judge a tiny head-to-head with an LLM judge (a GGUF on the runtime) in both orders, and run
// arbitrage on a pool of a GGUF teacher, an OpenAI endpoint and one of our models.

let served: Served | null = null;
let url = '';
let output: string[] = [];

test.beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aya-e2e-gguf-'));
  const gguf = join(dir, 'romance-gguf.f32.gguf');
  execFileSync('node', ['bin/aya-playground.js', 'export', '--format', 'gguf', '--model', 'public/models/teacher-romance', '--out', gguf], { stdio: 'pipe' });
  // The judge needs a context that holds its instructions (our zoo's is 256 tokens).
  const judge = join(dir, 'judge-2k.gguf');
  execFileSync('node', ['scripts/run-ts.mjs', 'test/e2e/longContextJudge.ts', 'public/models/teacher-germanic-hellenic', judge, '2048'], { stdio: 'pipe' });
  served = await startServe(['--models', mkdtempSync(join(tmpdir(), 'aya-e2e-lib-')), '--gguf', gguf, '--gguf', judge]);
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

  await compareGreedyWithTeacher(page, 'romance-gguf', 'llama.cpp (GGUF, on the runtime) · raw continuation');
  const columns = page.getByTestId('compare-column');
  await columns.nth(1).getByText('what the model was given').click();
  await expect(columns.nth(1).getByTestId('applied-prompt')).toContainText('<bos><lang:fra>');
  await page.screenshot({ path: 'test-results/screens/compare-gguf.png', fullPage: true });

  // Models: the GGUF teacher is listed; connect the runtime's own OpenAI-compatible API.
  const card = await connectRuntimeApi(page);
  await expect(card.locator('[data-teacher-id="gguf:romance-gguf.f32"]')).toContainText('command-r');
  // A wrong key is refused with the server's own words.
  await card.getByLabel('Name').fill('wrong');
  await card.getByTestId('endpoint-key').fill('not-the-token');
  await card.getByTestId('endpoint-connect').click();
  await expect(card.getByTestId('endpoint-error')).toContainText(/HTTP 401/);
  await page.screenshot({ path: 'test-results/screens/teachers.png', fullPage: true });
});

/** Models panel: connect the runtime's own /v1 as the OpenAI-compatible server 'rt'. */
async function connectRuntimeApi(page: Page) {
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  const card = page.getByTestId('teachers-card');
  const origin = new URL(url);
  await card.getByLabel('Name').fill('rt');
  await card.getByTestId('endpoint-url').fill(`${origin.origin}/v1`);
  await card.getByTestId('endpoint-key').fill(origin.searchParams.get('token')!);
  await card.getByTestId('endpoint-connect').click();
  await expect(card).toContainText(/Connected 'rt': \d+ models/);
  await expect(card.locator('[data-teacher-id="openai:rt/gguf:romance-gguf.f32"]')).toBeVisible();
  return card;
}

test('an LLM judge on the runtime judges a head-to-head in both orders; arbitrage on a pool of GGUF, OpenAI and our model', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto(url);
  await expect(page.getByTestId('engine-status')).toContainText(/runtime 127\.0\.0\.1:\d+/, { timeout: 120_000 });
  await connectRuntimeApi(page);

  // Evaluate: our teacher-romance against the GGUF teacher, judged by the LLM judge (and the Arbiter).
  await page.locator('nav').getByRole('link', { name: 'Evaluate' }).click();
  await page.getByTestId('eval-a').selectOption('builtin:teacher-romance');
  await page.getByTestId('eval-b').selectOption('gguf:romance-gguf.f32');
  await expect(page.getByTestId('eval-b-backend')).toContainText('llama.cpp teacher · raw prompt');
  await page.getByTestId('eval-source').getByRole('radio', { name: /UDHR held-out/ }).check();
  await page.getByTestId('langs-none').click();
  await page.getByTestId('eval-languages').getByRole('checkbox', { name: 'French' }).check();
  await page.getByLabel(/^Prompts per language/).fill('2');
  await page.getByLabel(/^Max new tokens/).fill('8');
  await page.getByLabel(/^Bootstrap resamples/).fill('1000');
  await page.getByTestId('eval-judge-both').check();
  await expect(page.getByTestId('eval-why')).toContainText('Choose the LLM judge');
  await page.getByTestId('eval-judge-model').selectOption('gguf:judge-2k');
  await expect(page.getByTestId('eval-judge-constrain')).toBeChecked();
  await expect(page.getByTestId('eval-plan')).toContainText('2 prompts × 1 sample = 2 comparisons: 4 completions of up to 8 tokens, and 4 judge replies (both orders)');
  await page.getByTestId('eval-start').click();
  const report = page.getByTestId('eval-report');
  await expect(report).toHaveAttribute('data-partial', 'false', { timeout: 400_000 });
  const lj = report.getByTestId('eval-llm-judge');
  await expect(lj).toContainText('LLM judge: judge-2k');
  await expect(lj).toContainText('2 comparisons, each judged twice with the answers in both orders');
  await expect(lj).toContainText('4 of 4 replies were constrained to a verdict');
  await expect(lj.getByTestId('llm-unparseable')).toHaveText('0');
  const consistent = Number(await lj.getByTestId('llm-consistent').textContent());
  const inconsistent = Number(await lj.getByTestId('llm-inconsistent').textContent());
  expect(consistent + inconsistent).toBe(2);
  await expect(lj.getByTestId('llm-position-consistency')).toHaveText(`${((100 * consistent) / 2).toFixed(1)}%`);
  await expect(lj.getByTestId('llm-kappa')).toHaveText(/^(n\/a|-?\d\.\d{3})$/);
  await expect(lj.getByTestId('llm-win-rate')).toBeVisible();
  // The transcripts: both orders' verdicts under every comparison.
  await report.getByTestId('eval-overall').click();
  const judged = page.getByTestId('transcript-llm');
  await expect(judged).toHaveCount(2);
  for (const j of await judged.all()) await expect(j).toContainText(/A shown first: \[\[(A>>B|A>B|A=B|B>A|B>>A)\]\] · B shown first: \[\[(A>>B|A>B|A=B|B>A|B>>A)\]\]/);
  await page.screenshot({ path: 'test-results/screens/evaluate-llm-judge.png', fullPage: true });

  // Arbitrage: a pool of the GGUF teacher, our slavic teacher through the OpenAI endpoint, and our romance teacher.
  await page.locator('nav').getByRole('link', { name: 'Arbitrage' }).click();
  const form = page.getByTestId('arbitrage-form');
  await expect(form.getByRole('checkbox', { name: /teacher-romance/ }).first()).toBeVisible({ timeout: 30_000 });
  for (const box of await form.getByRole('checkbox', { name: /^(teacher|base)-/ }).all()) await box.uncheck();
  await form.getByRole('checkbox', { name: /^teacher-romance/ }).check();
  await form.getByTestId('pool-teacher').filter({ hasText: /^\s*romance-gguf\.f32/ }).getByRole('checkbox').check();
  await form.getByTestId('pool-teacher').filter({ hasText: 'builtin:teacher-slavic @ rt' }).getByRole('checkbox').check();
  await expect(form.locator('legend').first()).toContainText('3 in the pool');
  await form.getByRole('radio', { name: /Reward-based/ }).check();
  await form.getByTestId('langs-none').click();
  await form.getByRole('checkbox', { name: 'French' }).check();
  await form.getByLabel('Prompts per language').fill('1');
  await form.getByLabel('Max new tokens').fill('8');
  await page.getByTestId('arbitrage-start').click();
  const results = page.getByTestId('arbitrage-results');
  await expect(results.getByTestId('arbitrage-cost')).toHaveText('3', { timeout: 300_000 });
  const cost = results.getByTestId('arbitrage-cost-table');
  await expect(cost.getByTestId('cost-row')).toHaveCount(3);
  for (const b of ['engine', 'llama.cpp', 'openai']) await expect(cost.locator(`[data-backend="${b}"]`)).toHaveCount(1);
  expect((await results.getByTestId('gen-backend').allTextContents()).sort()).toEqual(['engine', 'llama.cpp', 'openai']);
  const dl = page.waitForEvent('download');
  await results.getByTestId('export-generations').click();
  const gens = readFileSync(await (await dl).path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(gens.map((g) => g.backend).sort()).toEqual(['engine', 'llama.cpp', 'openai']);
  for (const g of gens) expect(g.tokens).toBeGreaterThan(0);
  await page.screenshot({ path: 'test-results/screens/arbitrage-mixed-pool.png', fullPage: true });
});
