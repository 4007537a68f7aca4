import { expect, test } from '@playwright/test';

// Bench → Peers in one page, kept small for SwiftShader: the shipped teacher through our engine,
// onnxruntime-web's WASM backend and TensorFlow.js WebGPU (which also trains): every number is a
// measurement of this run, each peer's work is checked against ours, and the table says so.
test('peers in one page: ours, onnxruntime-web WASM and TF.js WebGPU on the same model, ratios and checks shown', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/#bench');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const card = page.getByTestId('peers-card');
  await card.getByRole('checkbox', { name: /base preset/ }).uncheck();
  await card.getByRole('checkbox', { name: 'onnxruntime-web WebGPU' }).uncheck();
  await card.getByTestId('peers-run').click();
  const rows = card.getByTestId('peers-row');
  await expect(rows).toHaveCount(3, { timeout: 240_000 });
  await expect(rows.nth(0)).toContainText('aya-playground (WGSL)');
  await expect(rows.nth(0)).toContainText('1 (reference)');
  const wasm = card.locator('[data-testid="peers-row"][data-runtime="ort-wasm"]');
  await expect(wasm).toHaveAttribute('data-ok', 'true');
  await expect(wasm).toContainText('does not train');
  await expect(wasm).toContainText(/✓ logits Δ \d\.\de-\d · tokens equal/);
  const tfjs = card.locator('[data-testid="peers-row"][data-runtime="tfjs-webgpu"]');
  await expect(tfjs).toHaveAttribute('data-ok', 'true');
  await expect(tfjs).toContainText(/\d+\.\d\d× · \d+\.\d\d× · \d+\.\d\d×/);
  await expect(tfjs).toContainText(/loss Δ/);
  // The ratios are the table's own numbers divided, not typed in.
  const report = JSON.parse((await card.getByTestId('peers-table').getAttribute('data-report'))!);
  const [ours, , tf] = report.rows;
  expect(tf.oursOver.decode).toBeCloseTo(ours.decodeTokensPerSecond / tf.decodeTokensPerSecond, 9);
  expect(report.versions.onnxruntimeWeb).toMatch(/^\d+\.\d+/);
  await expect(card.getByTestId('peers-meta')).toContainText('swiftshader');
  await page.screenshot({ path: 'test-results/screens/peers.png', fullPage: true });
});
