import { expect, test } from '@playwright/test';
import { pauseAtCheckpoint } from './pauseAtCheckpoint.ts';

// The Preference panel on the shipped zoo's base student, kept tiny for SwiftShader: offline DPO on an
// imported TRL file of 3 pairs, 4 steps of 2 pairs × 32 tokens, an evaluation every 2 steps on one
// held-out prompt in French and English with 6 new tokens. A malformed file first: the parser's error,
// verbatim, and no Start.

const pairs = [
  { prompt: 'Tous les êtres humains naissent libres', chosen: ' et égaux en dignité et en droits.', rejected: ' und gleich an Würde und Rechten.', language: 'fra' },
  { prompt: 'All human beings are born free', chosen: ' and equal in dignity and rights.', rejected: ' y iguales en dignidad y derechos.', language: 'eng' },
  { prompt: 'Toute personne a droit à la liberté', chosen: ' de pensée, de conscience et de religion.', rejected: ' xq zzv qqq kkk.', language: 'fra' },
];

const jsonl = (rows: object[]) => Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

test('offline DPO from the Preference panel: steps, live charts, evaluations, a saved model', async ({ page }) => {
  test.setTimeout(900_000);
  await page.goto('/#preference');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const form = page.getByTestId('pref-form');
  const model = form.getByTestId('pref-model');
  await expect(model.locator('option[value="builtin:base-student"]'), 'the shipped model zoo (public/models) must be listed').toHaveCount(1, { timeout: 30_000 });
  // First visit without any saved pairs: online only is the default, and the intro names TRL's metrics.
  await expect(page.getByTestId('pref-card')).toContainText('rewards/margins');
  await expect(form.getByRole('radio', { name: /^online —/ })).toBeChecked();
  await model.selectOption('builtin:base-student');
  await form.getByTestId('pref-name').fill('dpo-test');

  // A malformed file: the engine's parser names the line, Start is disabled.
  await form.getByRole('radio', { name: /A TRL preference file/ }).check();
  await expect(form.getByRole('radio', { name: /^offline\+online —/ })).toBeChecked(); // pairs to use: the recipe's order
  await form.getByTestId('pref-jsonl-file').setInputFiles({ name: 'bad.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from('{"prompt":"a","chosen":"b","rejected":"c","language":"fra"}\n{"prompt":"a","chosen":1}\n') });
  await expect(form.getByTestId('pref-jsonl-error')).toContainText('bad.jsonl:2: "chosen" must be a string');
  await expect(page.getByTestId('pref-start')).toBeDisabled();
  await expect(page.getByTestId('pref-why')).toContainText('cannot be used');

  // The good file.
  await form.getByTestId('pref-jsonl-file').setInputFiles({ name: 'pairs.jsonl', mimeType: 'application/jsonl', buffer: jsonl(pairs) });
  await expect(form.getByTestId('pref-jsonl-error')).toHaveCount(0);
  await expect(form.getByTestId('pref-pairs-summary')).toContainText('3 pairs: French 2, English 1.');

  await form.getByRole('radio', { name: /^offline —/ }).check();
  await form.getByLabel(/^Offline steps/).fill('4');
  await form.getByLabel(/^Pairs per step/).fill('2');
  await form.getByLabel(/^Sequence length/).fill('32');
  await form.getByLabel(/^New tokens/).fill('6');
  await form.getByLabel(/^Evaluate every/).fill('2');
  await form.getByLabel(/^Held-out prompts per language/).fill('1');
  await form.getByTestId('pref-data-langs').click(); // French and English, the file's languages
  await expect(form.getByTestId('pref-cost')).toContainText('4 optimizer steps, each on 2 pairs × 2 sequences × 32 tokens; 3 evaluations × 2 held-out completions of up to 6 tokens.');
  await expect(page.getByTestId('pref-why')).toHaveCount(0);
  await page.getByTestId('pref-start').click();

  const run = page.getByTestId('pref-run');
  await expect(run.getByTestId('pref-step-counter')).toHaveText(/step [1-4]\/4/, { timeout: 300_000 });
  await expect(run.getByTestId('pref-outcome')).toHaveAttribute('data-status', 'done', { timeout: 600_000 });
  await expect(run.getByTestId('pref-step-counter')).toHaveText('step 4/4');

  // Every step is on the charts, every evaluation (start, step 2, step 4) on the evaluation charts.
  for (const id of ['pref-loss-chart', 'pref-acc-chart', 'pref-gradnorm-chart', 'pref-lr-chart']) await expect(run.getByTestId(id)).toHaveAttribute('data-points', '4');
  await expect(run.getByTestId('pref-rewards-chart')).toHaveAttribute('data-points', '12');
  await expect(run.getByTestId('pref-logps-chart')).toHaveAttribute('data-points', '8');
  for (const id of ['pref-kl-chart', 'pref-entropy-chart', 'pref-mass-chart', 'pref-reward-chart']) await expect(run.getByTestId(id)).toHaveAttribute('data-points', '3');
  // The loss moved: it starts at log 2 (policy = reference) and is something else after 4 steps.
  const lossText = (await run.getByTestId('pref-loss-chart-summary').textContent())!;
  const m = /loss, steps 1–4 of 4: (\d+\.\d{4}) at step 1 → (\d+\.\d{4}) at step 4/.exec(lossText);
  expect(m, lossText).not.toBeNull();
  expect(m![1]).toBe('0.6931');
  expect(m![2]).not.toBe(m![1]);
  await expect(run.getByTestId('pref-last-margin')).not.toHaveText('+0.0000');
  await expect(run.getByTestId('pref-status')).toContainText(/loss \d\.\d{4} · margin [+−]\d\.\d{4} · accuracy \d+%/);

  // The evaluation readouts are numbers.
  const readout = run.getByTestId('pref-eval-readout');
  await expect(readout).toContainText('At step 4 (offline)');
  await expect(readout.getByTestId('pref-eval-kl')).toHaveText(/^-?\d+\.\d{4}$/);
  await expect(readout.getByTestId('pref-eval-entropy')).toHaveText(/^\d\.\d{3}$/);
  await expect(readout.getByTestId('pref-eval-mass')).toHaveText(/^[01]\.\d{3}$/);
  await expect(readout.getByTestId('pref-eval-reward')).toHaveText(/^[01]\.\d{3}$/);

  // Before/after for each language's held-out prompt.
  const ba = page.getByTestId('pref-before-after');
  await expect(ba.getByTestId('pref-example')).toHaveCount(2);
  await expect(ba.getByTestId('pref-after-reward')).toHaveCount(2);

  // The stage's model is saved and listed, with links out.
  const saved = run.getByTestId('pref-model');
  await expect(saved).toHaveCount(1);
  await expect(saved).toContainText('dpo-test · offline');
  await expect(saved.getByRole('button', { name: /evaluate head-to-head/ })).toBeVisible();
  await page.screenshot({ path: 'test-results/screens/preference.png', fullPage: true });

  // The run survives a reload; the link puts the model beside the policy in Compare.
  await page.reload();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await expect(page.getByTestId('pref-outcome')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('pref-loss-chart')).toHaveAttribute('data-points', '4');
  await page.getByTestId('pref-model').getByRole('button', { name: /compare with/ }).click();
  await expect(page).toHaveURL(/#compare$/);
});

test('a DPO run interrupted by a reload resumes from its last checkpoint and finishes', async ({ page }) => {
  test.setTimeout(900_000);
  await page.goto('/#preference');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const form = page.getByTestId('pref-form');
  await expect(form.getByTestId('pref-model').locator('option[value="builtin:base-student"]'), 'the shipped model zoo (public/models) must be listed').toHaveCount(1, { timeout: 30_000 });
  await form.getByTestId('pref-model').selectOption('builtin:base-student');
  await form.getByTestId('pref-name').fill('dpo-resumed');
  await form.getByRole('radio', { name: /A TRL preference file/ }).check();
  await form.getByTestId('pref-jsonl-file').setInputFiles({ name: 'pairs.jsonl', mimeType: 'application/jsonl', buffer: jsonl(pairs) });
  await form.getByRole('radio', { name: /^offline —/ }).check();
  await form.getByLabel(/^Offline steps/).fill('4');
  await form.getByLabel(/^Pairs per step/).fill('2');
  await form.getByLabel(/^Sequence length/).fill('32');
  await form.getByLabel(/^Held-out prompts per language/).fill('0');
  await form.getByLabel(/^Checkpoint every/).fill('2');
  await expect(page.getByTestId('pref-why')).toHaveCount(0);
  await pauseAtCheckpoint(page, 2, 'pref-checkpoints', 'pref-pause');
  await page.getByTestId('pref-start').click();
  const run = page.getByTestId('pref-run');
  await expect(run).toHaveAttribute('data-status', 'paused', { timeout: 300_000 });
  await expect(run.getByTestId('pref-checkpoints')).toContainText('offline step 2');

  // The page goes away mid-run: after the reload the run is "interrupted", its checkpoint kept.
  await page.reload();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const outcome = page.getByTestId('pref-outcome');
  await expect(outcome).toHaveAttribute('data-status', 'interrupted');
  await expect(outcome).toContainText('Its last checkpoint, offline step 2, is saved as dpo-resumed · offline');
  await expect(page.getByTestId('pref-loss-chart')).toHaveAttribute('data-points', /^[23]$/);
  const resume = page.getByTestId('pref-resume-run');
  await expect(resume).toHaveText('Resume from offline, step 2');
  await page.screenshot({ path: 'test-results/screens/preference-interrupted.png', fullPage: true });

  await resume.click();
  await expect(outcome).toHaveAttribute('data-status', /done|error|non-finite|cancelled/, { timeout: 600_000 });
  expect(await outcome.textContent()).not.toMatch(/failed|Stopped/);
  await expect(outcome).toHaveAttribute('data-status', 'done');
  await expect(outcome).toContainText('Done: 4 steps in 1 stage');
  await expect(page.getByTestId('pref-step-counter')).toHaveText('step 4/4');
  // The curves go on from the checkpoint: steps 1–2 from before the reload, 3–4 after.
  await expect(page.getByTestId('pref-loss-chart')).toHaveAttribute('data-points', '4');
  await expect(page.getByTestId('pref-loss-chart-summary')).toContainText(/loss, steps 1–4 of 4: 0\.6931 at step 1 → \d+\.\d{4} at step 4/);
  await expect(resume).toHaveCount(0);
  await expect(run.getByTestId('pref-model')).toHaveCount(1);
  await expect(run.getByTestId('pref-model')).toContainText('dpo-resumed · offline');
  await page.screenshot({ path: 'test-results/screens/preference-resumed.png', fullPage: true });
});
