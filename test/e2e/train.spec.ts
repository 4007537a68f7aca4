import { expect, test, type Page } from '@playwright/test';
import { pauseAtCheckpoint } from './pauseAtCheckpoint.ts';
import { fillFrenchRun, startPausedAt } from './trainForm.ts';

// A fresh browser context: IndexedDB and localStorage start empty. Training runs on SwiftShader, so
// the run is tiny (batch 2 × 16 tokens, 6 steps).

async function openReady(page: Page, hash: string) {
  await page.goto(`/${hash}`);
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
}

const rowNamed = (page: Page, name: string) =>
  page.getByTestId('model-row').filter({ has: page.getByTestId('model-name').getByText(name, { exact: true }) });

test('train a tiny model on French with live charts, pause and resume, keep it across a reload; held-out heatmap', async ({ page }) => {
  test.setTimeout(900_000);
  await openReady(page, '#models');

  // The heatmap area: the shipped zoo's matrix (a build without the zoo is broken), and Recompute.
  const heat = page.getByTestId('heatmap-card');
  await expect(heat.getByTestId('zoo-manifest'), 'the shipped model zoo (public/models) must be in the build').toBeVisible();
  await expect(heat.getByTestId('heatmap-recompute')).toBeVisible();

  // A starting model.
  const form = page.locator('#create');
  await form.getByLabel('Name').fill('tiny-base');
  await form.getByLabel('Seed').fill('3');
  await form.getByRole('radio', { name: /tiny/ }).check();
  await page.getByTestId('create-model').click();
  await expect(rowNamed(page, 'tiny-base')).toBeVisible({ timeout: 60_000 });
  const baseId = (await rowNamed(page, 'tiny-base').getAttribute('data-model-id'))!;

  // Train: that model, French only, 6 steps of batch 2 × 16, eval and checkpoint every 3.
  await fillFrenchRun(page, { modelId: baseId, name: 'tiny-fra', steps: 6, evalEvery: 3, checkpointEvery: 3 });
  await expect(page.getByTestId('train-card')).toBeVisible();
  await expect(page.getByTestId('train-why')).toHaveCount(0);
  // Pause at the step-3 checkpoint.
  await pauseAtCheckpoint(page, 3, 'train-checkpoints', 'train-pause');
  await page.getByTestId('train-start').click();

  const status = page.getByTestId('train-status');
  await expect(status).toContainText(/step \d\/6/, { timeout: 240_000 });

  // After the checkpoint at step 3, pause: the checkpoint is a model in Models while the run waits.
  await expect(page.getByTestId('train-checkpoints')).toContainText('step 3', { timeout: 240_000 });
  await expect(page.getByTestId('train-resume')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'paused');
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  const trainedRow = rowNamed(page, 'tiny-fra');
  await expect(trainedRow.getByTestId('model-training')).toContainText('3/6 steps · checkpoint at step 3 of 6 · from tiny-base');
  await page.locator('nav').getByRole('link', { name: 'Train' }).click();
  await page.getByTestId('train-resume').click();

  // The run ends "done"; every number is there.
  const outcome = page.getByTestId('train-outcome');
  await expect(outcome).toHaveAttribute('data-status', 'done', { timeout: 300_000 });
  await expect(outcome).toContainText(/Done: 6 steps in \d+(\.\d)? s\. The trained model is saved as tiny-fra/);
  await expect(status).toContainText(/step 6\/6 · loss \d+\.\d{4} · grad norm \d+\.\d{3} · lr \d\.\d\de-\d+ · [\d,]+ tokens\/s/);
  await expect(page.getByTestId('loss-chart').locator('canvas')).toBeAttached();
  await expect(page.getByTestId('loss-chart-summary')).toContainText(/Training loss over 6 of 6 steps: \d+\.\d{4} at step 1, \d+\.\d{4} at step 6/);
  await expect(page.getByTestId('heldout-chart').locator('canvas')).toBeAttached();
  await expect(page.getByTestId('heldout-chart-summary')).toContainText(/2 evaluations .*; at step 6: French \d+\.\d{4} \(\d+\.\d{4} at step 3\)/);
  const box = await page.getByTestId('loss-chart').locator('canvas').boundingBox();
  expect(box!.width).toBeGreaterThan(300);
  expect(box!.height).toBeGreaterThan(150);
  await page.screenshot({ path: 'test-results/screens/train.png', fullPage: true });

  // The link goes to the saved model, trained (no untrained badge).
  await outcome.getByRole('link', { name: 'see it in Models' }).click();
  await expect(page).toHaveURL(/#models$/);
  await expect(trainedRow.locator('.badge.trained')).toHaveText('trained');
  await expect(trainedRow.getByTestId('untrained-badge')).toHaveCount(0);
  await expect(trainedRow.getByTestId('model-origin')).toHaveText('trained here');
  await expect(trainedRow.getByTestId('model-training')).toContainText('6/6 steps · complete · from tiny-base');
  await expect(rowNamed(page, 'tiny-base').getByTestId('untrained-badge')).toBeVisible();

  // A reload keeps both models, the last run's charts and the form.
  await page.reload();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await expect(rowNamed(page, 'tiny-base')).toBeVisible();
  await expect(rowNamed(page, 'tiny-fra')).toBeVisible();
  await expect(rowNamed(page, 'tiny-fra').getByTestId('model-training')).toContainText('6/6 steps · complete');
  await page.locator('nav').getByRole('link', { name: 'Train' }).click();
  await expect(page.getByTestId('train-outcome')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('loss-chart-summary')).toContainText('Training loss over 6 of 6 steps');
  await expect(page.getByLabel('French weight')).toHaveValue('1');
  await expect(page.getByLabel('Spanish weight')).toHaveValue('0');
  await expect(page.getByLabel(/^Steps/)).toHaveValue('6');
  await expect(page.getByTestId('train-model')).toHaveValue(baseId);

  // A broken JSONL is refused with the parser's message, verbatim.
  await page.getByTestId('pairs-file').setInputFiles({
    name: 'pairs.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from('{"prompt": "Bonjour", "completion": " le monde", "language": "fra"}\n{"prompt": "x", "completion": "y", "language": "xx"}\n'),
  });
  await expect(page.getByTestId('pairs-error')).toContainText("pairs.jsonl:2: unknown language 'xx'");

  // Heatmap: recompute the base and the fine-tuned model; each becomes a row of 23 measured cells.
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  await heat.getByRole('checkbox', { name: 'tiny-base' }).check();
  await expect(heat.getByRole('checkbox', { name: 'tiny-fra' })).toBeChecked();
  await heat.getByTestId('heatmap-recompute').click();
  await expect(heat.getByTestId('heatmap-recompute')).toHaveText(/^Recompute \(/, { timeout: 600_000 });
  await expect(heat).toContainText('Recomputed 2 models');
  const rows = heat.getByTestId('heatmap-row').and(page.locator('[data-source="recomputed"]'));
  await expect(rows).toHaveCount(2);
  for (let i = 0; i < 2; i++) await expect(rows.nth(i).locator('td.cell:not(.mean)').filter({ hasText: /^\s*\d+\.\d{2,3}\s*$/ })).toHaveCount(23);
  await expect(heat.locator('td.cell.best')).toHaveCount(23);
  await heat.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/screens/models-heatmap.png', fullPage: true });
});

/** A new tiny model, a French run of `steps` on it (batch 2 × 16, a checkpoint every 2 steps,
 *  held-out loss only at the end) started and paused at its step-2 checkpoint, so what the test
 *  does next lands between steps. */
async function startTinyRunPausedAt2(page: Page, base: string, name: string, steps: number): Promise<void> {
  await openReady(page, '#models');
  const form = page.locator('#create');
  await form.getByLabel('Name').fill(base);
  await form.getByRole('radio', { name: /tiny/ }).check();
  await page.getByTestId('create-model').click();
  await expect(rowNamed(page, base)).toBeVisible({ timeout: 60_000 });
  const baseId = (await rowNamed(page, base).getAttribute('data-model-id'))!;
  await fillFrenchRun(page, { modelId: baseId, name, steps, evalEvery: 0, checkpointEvery: 2 });
  await startPausedAt(page, 2);
}

test('a run interrupted by a reload resumes from its last checkpoint and finishes', async ({ page }) => {
  test.setTimeout(600_000);
  await startTinyRunPausedAt2(page, 'resume-base', 'resumed-fra', 6);

  // The page goes away mid-run: after the reload the run is "interrupted", its checkpoint kept.
  await page.reload();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await page.locator('nav').getByRole('link', { name: 'Train' }).click();
  const outcome = page.getByTestId('train-outcome');
  await expect(outcome).toHaveAttribute('data-status', 'interrupted');
  await expect(outcome).toContainText('Its last checkpoint, step 2, is saved as resumed-fra');
  await expect(page.getByTestId('loss-chart-summary')).toContainText(/over \d of 6 steps/);
  await page.screenshot({ path: 'test-results/screens/train-interrupted.png', fullPage: true });

  await page.getByTestId('train-resume-run').click();
  await expect(outcome).toHaveAttribute('data-status', /done|error|non-finite/, { timeout: 300_000 });
  expect(await outcome.textContent()).not.toMatch(/failed|Stopped/);
  await expect(outcome).toHaveAttribute('data-status', 'done');
  await expect(outcome).toContainText('Done: 6 steps');
  // The curve goes on from the checkpoint: steps 1–2 from before the reload, 3–6 after.
  await expect(page.getByTestId('loss-chart-summary')).toContainText(/Training loss over 6 of 6 steps: \d+\.\d{4} at step 1, \d+\.\d{4} at step 6/);
  await expect(page.getByTestId('train-resume-run')).toHaveCount(0);
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  await expect(rowNamed(page, 'resumed-fra').getByTestId('model-training')).toContainText('6/6 steps · complete');
  await page.screenshot({ path: 'test-results/screens/train-resumed.png', fullPage: true });
});

test('a GPU device lost during training: the checkpoint is kept, Restart engine, then Resume finishes the run', async ({ page }) => {
  test.setTimeout(600_000);
  await startTinyRunPausedAt2(page, 'lost-base', 'survived-fra', 4);

  // The device goes away while the run waits; going on fails the run, plainly.
  await page.locator('nav').getByRole('link', { name: 'Engine' }).click();
  await page.getByText('Diagnostics').click();
  await page.getByTestId('simulate-loss').click();
  await expect(page.getByRole('alert')).toContainText('GPU device was lost');
  await page.locator('nav').getByRole('link', { name: 'Train' }).click();
  await page.getByTestId('train-resume').click();
  const outcome = page.getByTestId('train-outcome');
  await expect(outcome).toHaveAttribute('data-status', /error|non-finite/, { timeout: 120_000 });
  await expect(outcome).toContainText(/lost|destroyed/i);
  await expect(page.getByTestId('train-resume-run')).toBeDisabled(); // not on a lost device
  await page.screenshot({ path: 'test-results/screens/train-device-lost.png', fullPage: true });

  await page.getByRole('button', { name: 'Restart engine' }).click();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await expect(page.getByRole('alert')).toHaveCount(0);
  await page.getByTestId('train-resume-run').click();
  await expect(outcome).toHaveAttribute('data-status', /done|error|non-finite/, { timeout: 300_000 });
  expect(await outcome.textContent()).not.toMatch(/failed|Stopped/);
  await expect(outcome).toContainText('Done: 4 steps');
  await expect(page.getByTestId('loss-chart-summary')).toContainText('Training loss over 4 of 4 steps');
});
