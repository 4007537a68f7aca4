import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { unzipSync } from 'fflate';
import { fillFrenchRun } from './trainForm.ts';
import { fillArbitrageRomanceSlavic, fillEvalRomanceSlavic } from './zooForms.ts';

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

// Merging: the same mergekit config and DARE seed give the same weights, byte for byte, from the
// CLI (Dawn) and from the Merge panel (the Worker on Chromium's WebGPU) — dare_ties, so the seeded
// masks are part of what must agree.
test('merging is the same in Node and in the browser', async ({ page }) => {
  test.setTimeout(300_000);
  const yaml = [
    '# aya-playground: {"seed": 3}',
    'merge_method: dare_ties',
    'base_model: public/models/base-student',
    'models:',
    '  - model: public/models/teacher-romance',
    '    parameters: {weight: 1, density: 0.5}',
    '  - model: public/models/teacher-slavic',
    '    parameters: {weight: 1, density: 0.5}',
    'parameters: {normalize: true}',
    '',
  ].join('\n');
  const base = mkdtempSync(join(tmpdir(), 'aya-det-merge-'));
  writeFileSync(join(base, 'merge.yml'), yaml);
  execFileSync('node', ['bin/aya-playground.js', 'merge', join(base, 'merge.yml'), '--out', join(base, 'merged')], { encoding: 'utf8', stdio: 'pipe' });
  const nodeWeights = readFileSync(join(base, 'merged', 'model.safetensors'));

  await page.goto('/#merge');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await page.locator('summary', { hasText: 'Import a mergekit YAML' }).click();
  await page.getByTestId('merge-yaml-input').fill(yaml);
  await page.getByTestId('merge-yaml-load').click();
  await expect(page.getByTestId('merge-yaml-message')).toContainText('Loaded pasted YAML: dare_ties, 2 models + base');
  await expect(page.getByTestId('merge-param-seed')).toHaveValue('3');
  await page.getByTestId('merge-name').fill('det-merged');
  await page.getByTestId('merge-start').click();
  await expect(page.getByTestId('merge-result').getByTestId('merge-result-name')).toHaveText('det-merged', { timeout: 120_000 });

  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  const row = page.getByTestId('model-row').filter({ has: page.getByTestId('model-name').getByText('det-merged', { exact: true }) });
  const download = page.waitForEvent('download');
  await row.getByRole('button', { name: 'Download .zip' }).click();
  const zip = unzipSync(new Uint8Array(readFileSync((await (await download).path())!)));
  const tabWeights = zip['det-merged/model.safetensors'];
  expect(tabWeights, `the zip holds ${Object.keys(zip).join(', ')}`).toBeDefined();
  expect(tabWeights.byteLength).toBe(nodeWeights.byteLength);
  expect(Buffer.from(tabWeights).equals(nodeWeights)).toBe(true);
});

// Arbitrage: the same pool, prompts, sampling settings and seed give the same completions, the
// same Arbiter scores and so the same chosen completion per prompt, from the CLI and the tab.
test('arbitrage is the same in Node and in the browser', async ({ page }) => {
  test.setTimeout(300_000);
  const out = join(mkdtempSync(join(tmpdir(), 'aya-det-arb-')), 'run');
  execFileSync(
    'node',
    ['bin/aya-playground.js', 'arbitrage', '--teachers', 'public/models/teacher-romance,public/models/teacher-slavic', '--out', out, '--strategy', 'reward', '--langs', 'fra,rus', '--per-language', '2', '--samples', '1', '--seed', '9', '--max-new-tokens', '8', '--min-new-tokens', '4', '--temperature', '0.8'],
    { encoding: 'utf8', stdio: 'pipe' },
  );
  const jsonl = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l));
  const pick = (rows: Array<Record<string, unknown>>, keys: string[]) => rows.map((r) => Object.fromEntries(keys.map((k) => [k, r[k]])));
  const nodeSft = jsonl(readFileSync(join(out, 'sft.jsonl'), 'utf8'));
  const nodeGen = jsonl(readFileSync(join(out, 'generations.jsonl'), 'utf8'));
  expect(nodeSft).toHaveLength(4);
  expect(nodeGen).toHaveLength(8);

  await page.goto('/#arbitrage');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await fillArbitrageRomanceSlavic(page);
  const form = page.getByTestId('arbitrage-form');
  await form.getByLabel('Prompts per language').fill('2');
  await form.getByLabel('Samples per teacher').fill('1');
  await form.getByRole('spinbutton', { name: 'Seed' }).fill('9');
  await form.getByLabel('Max new tokens').fill('8');
  await form.getByLabel('Min new tokens').fill('4');
  await form.getByLabel('Temperature').fill('0.8');
  await page.getByTestId('arbitrage-start').click();
  const results = page.getByTestId('arbitrage-results');
  await expect(results.getByTestId('arbitrage-cost')).toHaveText('8', { timeout: 300_000 });

  const exported = async (testid: string) => {
    const dl = page.waitForEvent('download');
    await results.getByTestId(testid).click();
    return jsonl(readFileSync((await (await dl).path())!, 'utf8'));
  };
  const tabSft = await exported('export-sft');
  const tabGen = await exported('export-generations');
  expect(pick(tabSft, ['prompt', 'completion', 'language'])).toEqual(pick(nodeSft, ['prompt', 'completion', 'language']));
  expect(tabGen).toHaveLength(8);
  const genKeys = Object.keys(nodeGen[0]).filter((k) => !/teacher|model|id|path|seconds|time/i.test(k));
  expect(genKeys).toContain('completion');
  expect(pick(tabGen, genKeys)).toEqual(pick(nodeGen, genKeys));
});

// Evaluation: the same two models, prompts, sampling settings and seed give the same transcripts,
// the same verdicts and the same (seeded bootstrap) intervals from the CLI and the Evaluate panel.
test('evaluation is the same in Node and in the browser', async ({ page }) => {
  test.setTimeout(300_000);
  const out = join(mkdtempSync(join(tmpdir(), 'aya-det-eval-')), 'report.json');
  execFileSync(
    'node',
    ['bin/aya-playground.js', 'eval', '--a', 'public/models/teacher-romance', '--b', 'public/models/teacher-slavic', '--out', out, '--langs', 'fra,rus', '--per-language', '2', '--samples', '1', '--seed', '3', '--max-new-tokens', '8', '--min-new-tokens', '4', '--bootstrap', '1000'],
    { encoding: 'utf8', stdio: 'pipe' },
  );
  const node = JSON.parse(readFileSync(out, 'utf8'));
  expect(node.transcripts).toHaveLength(4);

  await page.goto('/#evaluate');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await fillEvalRomanceSlavic(page);
  const settings: Array<[RegExp, string]> = [
    [/^Prompts per language/, '2'],
    [/^Samples per prompt/, '1'],
    [/^Seed/, '3'],
    [/^Max new tokens/, '8'],
    [/^Min new tokens/, '4'],
    [/^Temperature/, '0.8'],
    [/^Top-k/, '40'],
    [/^Top-p/, '0.95'],
    [/^Bootstrap resamples/, '1000'],
  ];
  for (const [label, value] of settings) await page.getByLabel(label).fill(value);
  await page.getByTestId('eval-start').click();
  const report = page.getByTestId('eval-report');
  await expect(report).toHaveAttribute('data-partial', 'false', { timeout: 240_000 });
  const download = page.waitForEvent('download');
  await report.getByTestId('eval-export-json').click();
  const tab = JSON.parse(readFileSync((await (await download).path())!, 'utf8'));

  expect(tab.names).toEqual(node.names);
  expect(tab.transcripts).toEqual(node.transcripts);
  expect(tab.perLanguage).toEqual(node.perLanguage);
  expect(tab.overall).toEqual(node.overall);
});

// Preference training: the same SFT model, TRL pairs, settings and seed give the same DPO steps —
// loss, reward margins and accuracies, gradient norms — from the CLI and the Preference panel.
test('DPO is the same in Node and in the browser', async ({ page }) => {
  test.setTimeout(300_000);
  const base = mkdtempSync(join(tmpdir(), 'aya-det-dpo-'));
  const pairs = [
    { prompt: 'Tous les êtres humains naissent libres', chosen: ' et égaux en dignité et en droits.', rejected: ' und gleich an Würde und Rechten.', language: 'fra' },
    { prompt: 'All human beings are born free', chosen: ' and equal in dignity and rights.', rejected: ' y iguales en dignidad y derechos.', language: 'eng' },
    { prompt: 'Toute personne a droit à la liberté', chosen: ' de pensée, de conscience et de religion.', rejected: ' xq zzv qqq kkk.', language: 'fra' },
  ];
  const file = Buffer.from(pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  writeFileSync(join(base, 'pairs.jsonl'), file);
  const lines = execFileSync(
    'node',
    ['bin/aya-playground.js', 'dpo', '--model', 'public/models/base-student', '--out', join(base, 'dpo'), '--mode', 'offline', '--data', join(base, 'pairs.jsonl'), '--steps', '3', '--batch', '2', '--seq', '32', '--lr', '0.001', '--beta', '0.1', '--seed', '4', '--eval-every', '0', '--langs', 'fra,eng', '--eval-per-language', '1', '--max-new-tokens', '4', '--json'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  )
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const nodeSteps = lines.filter((l) => l.type === 'step').map((l) => l.point);
  expect(nodeSteps).toHaveLength(3);

  await page.goto('/#preference');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const form = page.getByTestId('pref-form');
  await expect(form.getByTestId('pref-model').locator('option[value="builtin:base-student"]')).toHaveCount(1, { timeout: 30_000 });
  await form.getByTestId('pref-model').selectOption('builtin:base-student');
  await form.getByTestId('pref-name').fill('det-dpo');
  await form.getByRole('radio', { name: /A TRL preference file/ }).check();
  await form.getByTestId('pref-jsonl-file').setInputFiles({ name: 'pairs.jsonl', mimeType: 'application/jsonl', buffer: file });
  await expect(form.getByTestId('pref-pairs-summary')).toContainText('3 pairs');
  await form.getByRole('radio', { name: /^offline —/ }).check();
  const settings: Array<[RegExp, string]> = [
    [/^Offline steps/, '3'],
    [/^Pairs per step/, '2'],
    [/^Sequence length/, '32'],
    [/^Learning rate/, '0.001'],
    [/^β/, '0.1'],
    [/^Seed/, '4'],
    [/^New tokens/, '4'],
    [/^Evaluate every/, '0'],
    [/^Held-out prompts per language/, '1'],
  ];
  for (const [label, value] of settings) await form.getByLabel(label).fill(value);
  await page.getByTestId('pref-start').click();
  const run = page.getByTestId('pref-run');
  await expect(run.getByTestId('pref-outcome')).toHaveAttribute('data-status', /done|error/, { timeout: 240_000 });
  await expect(run.getByTestId('pref-outcome')).toHaveAttribute('data-status', 'done');
  await run.getByText('The numbers behind the charts').click();
  const download = page.waitForEvent('download');
  await run.getByRole('button', { name: 'Download the run (JSON)' }).click();
  const tab = JSON.parse(readFileSync((await (await download).path())!, 'utf8'));
  const keys = Object.keys(nodeSteps[0]).filter((k) => typeof nodeSteps[0][k] === 'number' && !/seconds|tokens_?per|time/i.test(k));
  expect(keys).toEqual(expect.arrayContaining(['loss', 'rewards/margins', 'rewards/accuracies']));
  const pick = (rows: Array<Record<string, unknown>>) => rows.map((r) => Object.fromEntries(keys.map((k) => [k, r[k]])));
  expect(pick(tab.steps)).toEqual(pick(nodeSteps));
});
