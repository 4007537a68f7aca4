import { expect, test } from '@playwright/test';

test('the Engine panel shows the adapter and every op passes "Check this GPU"', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await expect(page.getByTestId('adapter-architecture')).toHaveText('swiftshader');

  await page.getByTestId('check-gpu').click();
  const summary = page.getByTestId('check-summary');
  await expect(page.getByTestId('check-gpu')).toBeEnabled({ timeout: 150_000 });
  const rows = page.getByTestId('check-table').locator('tbody tr');
  const n = await rows.count();
  expect(n).toBeGreaterThan(50);
  await expect(summary).toContainText(`${n} passed, 0 failed`);
  await expect(page.getByTestId('check-table').getByText('FAIL')).toHaveCount(0);
  // Every op family the engine has is in the table.
  for (const op of ['matmul A·B', 'matmul A·Bᵀ', 'add', 'mul', 'scale', 'swiglu', 'layernorm', 'rope', 'attention', 'softmax', 'embedding', 'cross-entropy', 'sum', 'max']) {
    await expect(page.getByTestId('check-table').locator('td:first-child', { hasText: op }).first()).toBeVisible();
  }
  await page.screenshot({ path: 'test-results/screens/engine-check.png', fullPage: true });

  // The result survives a reload (IndexedDB).
  await page.reload();
  await expect(page.getByTestId('check-summary')).toContainText(`${n} passed, 0 failed`);
  await expect(page.getByTestId('check-summary')).toContainText('saved result');
});

test('a lost GPU device is reported and the engine restarts without reloading the page', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await page.getByText('Diagnostics').click();
  await page.getByTestId('simulate-loss').click();
  await expect(page.getByRole('alert')).toContainText('GPU device was lost');
  await expect(page.getByTestId('check-gpu')).toBeDisabled();
  await page.screenshot({ path: 'test-results/screens/device-lost.png' });
  await page.getByRole('button', { name: 'Restart engine' }).click();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect(page.getByTestId('check-gpu')).toBeEnabled();
});

test('the Bench panel measures the peak and matmul GFLOP/s', async ({ page }) => {
  await page.goto('/#bench');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  // Keep it short on a CPU adapter: 256³ only, no model shapes.
  await page.getByLabel('512³').uncheck();
  await page.getByLabel('model shapes').uncheck();
  await page.getByLabel('whole model').uncheck();
  await page.getByTestId('run-bench').click();
  await expect(page.getByTestId('run-bench')).toBeEnabled({ timeout: 150_000 });
  await expect(page.getByTestId('bench-peak')).toContainText(/Measured peak: \d+\.\d\d GFLOP\/s/);
  const rows = page.getByTestId('bench-table').locator('tbody tr');
  await expect(rows.first()).toContainText('256³');
  expect(await rows.count()).toBeGreaterThanOrEqual(2);
  await page.screenshot({ path: 'test-results/screens/bench.png', fullPage: true });
});

test('the Engine panel measures the matmul kernels, shows the choice, and keeps it across a reload', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const card = page.getByTestId('kernels-card');
  await expect(card.getByTestId('kernels-summary')).toContainText('Not measured on this adapter yet');
  await card.getByTestId('measure-kernels').click();
  await expect(card.getByText(/measuring \d+%/)).toBeVisible();
  await expect(card.getByTestId('measure-kernels')).toHaveText('Measure again', { timeout: 170_000 });
  const summary = card.getByTestId('kernels-summary');
  await expect(summary).toContainText(/In force: decode v\d · batched v\d · bulk v\d/);
  // One row per class, a time for every variant, the chosen one marked.
  const rows = card.getByTestId('kernels-table').locator('tbody tr');
  await expect(rows).toHaveCount(3);
  await expect(rows.first().locator('td.chosen')).toHaveCount(1);
  await expect(rows.first()).toContainText(/\d+\.\d ms/);
  await card.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/screens/engine-kernels.png', fullPage: true });
  const text = await summary.textContent();

  // Stored for this adapter: a reload (a new device) has the same choice in force.
  await page.reload();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await expect(page.getByTestId('kernels-summary')).toContainText(text!.split(' · measured')[0].trim());
});

test('a crashed engine worker is reported; Restart engine starts a new one and every stored model is still there', async ({ page }) => {
  await page.goto('/#models');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const form = page.locator('#create');
  await form.getByLabel('Name').fill('survivor');
  await form.getByRole('radio', { name: /tiny/ }).check();
  await page.getByTestId('create-model').click();
  const row = page.getByTestId('model-row').filter({ hasText: 'survivor' });
  await expect(row).toBeVisible({ timeout: 60_000 });

  await page.locator('nav').getByRole('link', { name: 'Engine' }).click();
  await page.getByText('Diagnostics').click();
  await page.getByTestId('simulate-crash').click();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('The engine worker crashed');
  await expect(alert).toContainText('simulated engine worker crash');
  await expect(alert).toContainText('stored models are kept');
  await page.screenshot({ path: 'test-results/screens/worker-crash.png' });
  await alert.getByRole('button', { name: 'Restart engine' }).click();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await expect(page.getByRole('alert')).toHaveCount(0);
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  await expect(row).toBeVisible();
  // The new worker reads it back in full and samples from it.
  await page.locator('nav').getByRole('link', { name: 'Compare' }).click();
  await page.getByTestId('language').selectOption({ label: 'French' });
  await page.getByTestId('prompt-choice').selectOption({ label: 'Your own prompt…' });
  await page.getByTestId('own-prompt').fill('Bonjour');
  await page.getByRole('checkbox', { name: /survivor/ }).check();
  await page.getByLabel('Max new tokens').fill('4');
  await page.getByTestId('generate').click();
  const column = page.getByTestId('compare-column').filter({ hasText: 'survivor' });
  await expect(column.getByTestId('stop-reason')).toBeVisible({ timeout: 120_000 });
  await expect(column.getByTestId('token-count')).toContainText('4 tokens');
});
