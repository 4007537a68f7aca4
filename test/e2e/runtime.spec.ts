import { expect, test, type Page } from '@playwright/test';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServe, type Served } from './serve.ts';
import { fillFrenchRun } from './trainForm.ts';

// The desktop runtime, as a person uses it: `aya-playground serve --models DIR` started by the test
// prints a URL; opening it gives the app connected to the runtime (its adapter named). Compare and a
// short training run there; a reload in the middle of the training re-attaches to the job, the charts
// come back with its whole history, and the finished job and its model (a folder in DIR) are shown.
// A second tab connected to the same runtime sees the same job.

let served: Served | null = null;
let url = '';
let output: string[] = [];
let lib = '';

test.beforeAll(async () => {
  lib = mkdtempSync(join(tmpdir(), 'aya-e2e-lib-'));
  served = await startServe(['--models', lib]);
  url = served.url;
  output = served.output;
});

test.afterAll(async () => {
  await served?.stop();
});

async function connected(page: Page) {
  await expect(page.getByTestId('engine-status')).toContainText(/runtime 127\.0\.0\.1:\d+: .*swiftshader/i, { timeout: 120_000 });
  await expect(page.getByTestId('side-runtime')).toHaveAttribute('aria-pressed', 'true');
}

test('the app served by `serve` runs Compare and Train on the runtime; a reload re-attaches to the training; a second tab sees the job', async ({ page, context }) => {
  test.setTimeout(900_000);
  expect(output.join('')).toMatch(/adapter:\s+.+/);
  expect(output.join('')).toContain(lib);

  await page.goto(url);
  await connected(page);
  // The token leaves the address bar once the app has it.
  expect(page.url()).not.toContain('token=');
  await expect(page.getByTestId('runtime-connected')).toContainText(lib);

  // Models: the runtime's library (empty) and the shipped zoo; a new model is a folder in the library.
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  await expect(page.getByTestId('models-card')).toContainText('on the desktop runtime');
  await expect(page.locator('[data-testid="model-row"][data-origin="builtin"]').first()).toBeVisible({ timeout: 60_000 });
  const form = page.locator('#create');
  await form.getByLabel('Name').fill('runtime-base');
  await form.getByLabel('Seed').fill('4');
  await form.getByRole('radio', { name: /tiny/ }).check();
  await page.getByTestId('create-model').click();
  const row = page.getByTestId('model-row').filter({ has: page.getByTestId('model-name').getByText('runtime-base', { exact: true }) });
  await expect(row).toBeVisible({ timeout: 60_000 });
  await expect(row.getByTestId('model-location')).toContainText(join(lib, 'runtime-base'));
  expect(existsSync(join(lib, 'runtime-base', 'model.safetensors'))).toBe(true);
  const baseId = (await row.getAttribute('data-model-id'))!;
  await page.screenshot({ path: 'test-results/screens/runtime-models.png', fullPage: true });

  // Compare on the runtime: a zoo teacher and the new model.
  await page.locator('nav').getByRole('link', { name: 'Compare' }).click();
  await page.getByTestId('language').selectOption({ label: 'French' });
  await page.getByRole('checkbox', { name: /teacher-romance/ }).check();
  await page.getByRole('checkbox', { name: /runtime-base/ }).check();
  await page.getByLabel('Max new tokens').fill('8');
  await page.getByTestId('generate').click();
  const columns = page.getByTestId('compare-column');
  await expect(columns).toHaveCount(2);
  for (let i = 0; i < 2; i++) {
    await expect(columns.nth(i).getByTestId('stop-reason')).toBeVisible({ timeout: 240_000 });
    await expect(columns.nth(i).getByTestId('tps')).toHaveText(/^\d+\.\d tokens\/s$/);
  }
  await page.screenshot({ path: 'test-results/screens/runtime-compare.png', fullPage: true });

  // Train on the runtime, and reload while it runs.
  await fillFrenchRun(page, { modelId: baseId, name: 'runtime-fra', steps: 40, evalEvery: 20, checkpointEvery: 0 });
  await page.getByTestId('train-start').click();
  const status = page.getByTestId('train-status');
  await expect(status).toContainText(/step [2-9]\/40/, { timeout: 240_000 });

  await page.reload();
  await connected(page);
  await page.locator('nav').getByRole('link', { name: 'Train' }).click();
  // Re-attached: the job goes on, its steps from the start are back in the chart.
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', /running|done/, { timeout: 60_000 });

  // A second tab connected to the same runtime lists the same job.
  const second = await context.newPage();
  await second.goto(url.replace(/\?token=.*/, '#engine'));
  await connected(second);
  const jobRow = second.locator('[data-testid="job-row"][data-kind="train"]');
  await expect(jobRow).toHaveCount(1, { timeout: 60_000 });
  await expect(jobRow).toContainText('runtime-fra');
  await second.screenshot({ path: 'test-results/screens/runtime-jobs.png', fullPage: true });

  const outcome = page.getByTestId('train-outcome');
  await expect(outcome).toHaveAttribute('data-status', 'done', { timeout: 600_000 });
  await expect(outcome).toContainText(/Done: 40 steps in \d+(\.\d)? s\. The trained model is saved as runtime-fra/);
  await expect(page.getByTestId('loss-chart-summary')).toContainText(/Training loss over 40 of 40 steps: \d+\.\d{4} at step 1, \d+\.\d{4} at step 40/);
  await page.screenshot({ path: 'test-results/screens/runtime-train.png', fullPage: true });
  await expect(jobRow).toHaveAttribute('data-state', 'done', { timeout: 60_000 });

  // The finished model is a folder in the library, listed in Models with where it lives.
  expect(readdirSync(lib)).toContain('runtime-fra');
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  const trained = page.getByTestId('model-row').filter({ has: page.getByTestId('model-name').getByText('runtime-fra', { exact: true }) });
  await expect(trained.getByTestId('model-training')).toContainText('40/40 steps · complete · from runtime-base');
  await expect(trained.getByTestId('model-location')).toContainText(join(lib, 'runtime-fra'));

  // Copy it into this tab's storage, then switch to "This tab": it is there.
  await trained.getByTestId('model-copy').click();
  await expect(trained.getByTestId('model-copied')).toContainText('Copied to this tab');
  await page.getByTestId('side-tab').click();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader', { timeout: 120_000 });
  await expect(page.getByTestId('engine-status')).not.toContainText('runtime');
  await expect(page.getByTestId('models-card')).toContainText('in this tab');
  const copy = page.getByTestId('model-row').filter({ has: page.getByTestId('model-name').getByText('runtime-fra', { exact: true }) });
  await expect(copy.getByTestId('model-location')).toHaveText('this browser (IndexedDB)');
});

test('the app on another origin (the preview server) connects to the runtime by its pasted URL; a wrong token is refused plainly', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/#engine');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await page.getByTestId('side-runtime').click();
  const connect = page.getByTestId('runtime-connect');
  await expect(connect).toContainText('npx aya-playground serve');

  // A token from an earlier run: the runtime refuses, and the page says why (no endless retries).
  await page.getByTestId('runtime-url').fill(url.replace(/token=[0-9a-f]+/, 'token=0123'));
  await page.getByTestId('runtime-connect-button').click();
  await expect(page.getByTestId('runtime-error')).toContainText('Wrong token for this desktop runtime', { timeout: 60_000 });

  await page.getByTestId('runtime-url').fill(url);
  await page.getByTestId('runtime-connect-button').click();
  await connected(page);
  // The jobs of the first test are there: the runtime keeps them across clients.
  await expect(page.locator('[data-testid="job-row"][data-kind="train"][data-state="done"]')).toHaveCount(1, { timeout: 60_000 });
  await page.screenshot({ path: 'test-results/screens/runtime-connect.png', fullPage: true });
});
