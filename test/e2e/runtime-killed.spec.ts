import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startServe, type Served } from './serve.ts';
import { fillFrenchRun, startPausedAt } from './trainForm.ts';

// The desktop runtime killed in the middle of a training job (issue 15), then started again on the
// same port and library, as a person would after a crash: the tab says the runtime went away and
// keeps the run's charts; the restarted runtime has a new token, and its URL shows the run as
// stopped with its last checkpoint (a folder in the library); the Engine panel lists it among the
// runs that can be resumed, and another browser resumes it from there to the end.

let served: Served | null = null;
test.afterAll(async () => {
  await served?.stop();
});

const rowNamed = (page: Page, name: string) =>
  page.getByTestId('model-row').filter({ has: page.getByTestId('model-name').getByText(name, { exact: true }) });

async function connected(page: Page) {
  await expect(page.getByTestId('engine-status')).toContainText(/runtime 127\.0\.0\.1:\d+: .*swiftshader/i, { timeout: 120_000 });
}

test('a runtime killed mid-run: the tab says so and keeps the charts; after a restart the run resumes from its checkpoint', async ({ page, browser }) => {
  test.setTimeout(900_000);
  const lib = mkdtempSync(join(tmpdir(), 'aya-e2e-killed-'));
  const port = await freePort();
  served = await startServe(['--models', lib], port);
  await page.goto(served.url);
  await connected(page);

  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  const form = page.locator('#create');
  await form.getByLabel('Name').fill('killed-base');
  await form.getByRole('radio', { name: /tiny/ }).check();
  await page.getByTestId('create-model').click();
  await expect(rowNamed(page, 'killed-base')).toBeVisible({ timeout: 60_000 });
  const baseId = (await rowNamed(page, 'killed-base').getAttribute('data-model-id'))!;

  // A 6-step run on the runtime, checkpoint every 2, held right after its step-2 checkpoint (or the
  // step after: the pause lands between steps); then
  // the runtime process is killed (SIGKILL: no goodbye).
  await fillFrenchRun(page, { modelId: baseId, name: 'killed-fra', steps: 6, evalEvery: 0, checkpointEvery: 2 });
  await startPausedAt(page, 2);
  // While the job is there its checkpoint is not offered for resuming.
  await page.locator('nav').getByRole('link', { name: 'Engine' }).click();
  await expect(page.getByTestId('resumable-hidden')).toBeVisible();
  await expect(page.getByTestId('resumable-row')).toHaveCount(0);
  await page.locator('nav').getByRole('link', { name: 'Train' }).click();
  await served.kill();

  await expect(page.getByTestId('engine-status')).toContainText(/not answering|went away|Nothing answers/i, { timeout: 60_000 });
  await expect(page.getByTestId('loss-chart-summary')).toContainText(/Training loss over [23] of 6 steps/);
  await expect(page.getByTestId('run-runtime-away')).toContainText("this run's state is unknown");
  await expect(page.getByTestId('run-runtime-away')).toContainText('Its last checkpoint, step 2 (killed-fra), is kept');
  await page.screenshot({ path: 'test-results/screens/runtime-killed-down.png', fullPage: true });

  // Started again on the same port and library: a new token, so this page's connection is refused
  // and the run ends, saying why and what was kept.
  served = await startServe(['--models', lib], port);
  const outcome = page.getByTestId('train-outcome');
  await expect(outcome).toHaveAttribute('data-status', 'error', { timeout: 120_000 });
  await expect(outcome).toContainText('was started again (it has a new token), so this page cannot reconnect: open the URL it printed');
  await expect(outcome).toContainText('Its last checkpoint, step 2, is saved as killed-fra');
  await expect(page.getByTestId('run-runtime-away')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/screens/runtime-killed-restarted.png', fullPage: true });

  // The URL the new runtime printed: the run is shown with its checkpoint and Resume; the Engine
  // panel lists it among the runs that can be resumed.
  await page.goto(served.url);
  await connected(page);
  await page.locator('nav').getByRole('link', { name: 'Train' }).click();
  await expect(outcome).toContainText('Its last checkpoint, step 2, is saved as killed-fra');
  await expect(page.getByTestId('train-resume-run')).toHaveText('Resume from step 2');
  await page.locator('nav').getByRole('link', { name: 'Engine' }).click();
  const listed = page.getByTestId('resumable-row').filter({ hasText: 'killed-fra' });
  await expect(listed).toContainText('step 2 of 6');
  await page.screenshot({ path: 'test-results/screens/runtime-killed-listed.png', fullPage: true });

  // Another browser, which never saw the run, resumes it from that list: the job brings the run's
  // request and its steps so far, and it finishes there.
  const other = await (await browser.newContext()).newPage();
  await other.goto(`${served.url}#engine`);
  await connected(other);
  await other.getByTestId('resumable-row').filter({ hasText: 'killed-fra' }).getByTestId('resumable-resume').click();
  await expect(other).toHaveURL(/#train$/);
  const otherOutcome = other.getByTestId('train-outcome');
  await expect(otherOutcome).toHaveAttribute('data-status', /done|error|non-finite/, { timeout: 300_000 });
  expect(await otherOutcome.textContent()).not.toMatch(/failed/);
  await expect(otherOutcome).toContainText('Done: 6 steps');
  await expect(other.getByTestId('loss-chart-summary')).toContainText(/Training loss over 6 of 6 steps/);
  await expect(other.getByTestId('train-run')).toContainText('from killed-base');
  await other.screenshot({ path: 'test-results/screens/runtime-killed-resumed.png', fullPage: true });

  // The first page sees the finished model in the library, and nothing left to resume.
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  await expect(rowNamed(page, 'killed-fra').getByTestId('model-training')).toContainText('6/6 steps · complete');
  await expect(rowNamed(page, 'killed-fra').getByTestId('model-location')).toContainText(join(lib, 'killed-fra'));
  await page.locator('nav').getByRole('link', { name: 'Engine' }).click();
  await expect(page.getByTestId('resumable-row')).toHaveCount(0);
});
