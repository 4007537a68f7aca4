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
