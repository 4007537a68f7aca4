import { expect, type Page } from '@playwright/test';
import { pauseAtCheckpoint } from './pauseAtCheckpoint.ts';

/** The browser tests' small French run (batch 2 × 16 tokens): the Train panel's form filled as a
 *  person would, from the model picker to the checkpoint interval. */
export interface FrenchRun {
  modelId: string;
  name: string;
  steps: number;
  evalEvery: number;
  checkpointEvery: number;
  lr?: number;
  seed?: number;
}

export async function fillFrenchRun(page: Page, run: FrenchRun): Promise<void> {
  await page.locator('nav').getByRole('link', { name: 'Train' }).click();
  await page.getByTestId('train-model').selectOption(run.modelId);
  await page.getByTestId('train-name').fill(run.name);
  await page.getByTestId('mix-clear').click();
  await page.getByLabel('French weight').fill('1');
  await page.getByLabel(/^Steps/).fill(String(run.steps));
  await page.getByLabel(/^Batch size/).fill('2');
  await page.getByLabel(/^Sequence length/).fill('16');
  if (run.lr !== undefined) await page.getByLabel(/^Learning rate/).fill(String(run.lr));
  if (run.seed !== undefined) await page.getByLabel(/^Seed/).fill(String(run.seed));
  await page.getByLabel(/^Held-out eval every/).fill(String(run.evalEvery));
  await page.getByLabel(/^Checkpoint every/).fill(String(run.checkpointEvery));
}

/** Starts the run and waits until it is paused right after its checkpoint at `step`. */
export async function startPausedAt(page: Page, step: number): Promise<void> {
  await pauseAtCheckpoint(page, step, 'train-checkpoints', 'train-pause');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'paused', { timeout: 300_000 });
}
