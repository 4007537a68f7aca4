import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';

// Each test gets a fresh browser context, so IndexedDB and localStorage start empty.

/** Models made in this browser (the shipped zoo's built-in rows are listed too). */
const ownRows = (page: Page) => page.locator('[data-testid="model-row"]:not([data-origin="builtin"])');

async function openReady(page: Page, hash: string) {
  await page.goto(`/${hash}`);
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
}

async function createModel(page: Page, name: string, seed: number) {
  const form = page.locator('#create');
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Seed').fill(String(seed));
  await form.getByRole('radio', { name: /tiny/ }).check();
  await page.getByTestId('create-model').click();
  await expect(page.getByTestId('model-row').filter({ hasText: name })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('create-model')).toHaveText('Create');
}

test('create two tiny models, keep them across a reload, and compare their samples side by side', async ({ page }) => {
  test.setTimeout(400_000);
  await openReady(page, '#models');
  await expect(ownRows(page)).toHaveCount(0);

  await createModel(page, 'tiny-a', 1);
  await createModel(page, 'tiny-b', 2);
  const rows = ownRows(page);
  await expect(rows).toHaveCount(2);
  for (const name of ['tiny-a', 'tiny-b']) {
    const row = rows.filter({ hasText: name });
    await expect(row.getByTestId('untrained-badge')).toContainText('untrained (random init): samples are noise');
    await expect(row).toContainText('2 layers · hidden 64 · 4 heads / 2 KV');
    await expect(row.getByTestId('model-params')).toHaveText(/^\d+(\.\d+)? [kMB]$/);
    await expect(row.getByTestId('model-bytes')).toHaveText(/^\d+\.\d (KiB|MiB|GiB)$/);
  }
  await expect(rows.filter({ hasText: 'tiny-a' })).toContainText('seed 1');
  await expect(rows.filter({ hasText: 'tiny-b' })).toContainText('seed 2');

  // The list lives in IndexedDB (through the worker): a reload keeps it.
  await page.reload();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await expect(ownRows(page)).toHaveCount(2);
  await page.screenshot({ path: 'test-results/screens/models.png', fullPage: true });

  // The zip export is named after the model.
  const download = page.waitForEvent('download');
  await rows.filter({ hasText: 'tiny-a' }).getByRole('button', { name: 'Download .zip' }).click();
  expect((await download).suggestedFilename()).toBe('tiny-a.zip');

  // Export → GGUF (F16): a zip of the .gguf and an Ollama Modelfile naming it.
  await rows.filter({ hasText: 'tiny-a' }).getByTestId('model-gguf').click();
  const ggufDownload = page.waitForEvent('download');
  await rows.filter({ hasText: 'tiny-a' }).getByTestId('gguf-choice').getByRole('button', { name: 'F16' }).click();
  const gguf = await ggufDownload;
  expect(gguf.suggestedFilename()).toBe('tiny-a-gguf-f16.zip');
  const unzipped = unzipSync(new Uint8Array(readFileSync(await gguf.path())));
  expect(Object.keys(unzipped).sort()).toEqual(['tiny-a/Modelfile', 'tiny-a/tiny-a.f16.gguf']);
  expect(new TextDecoder().decode(unzipped['tiny-a/tiny-a.f16.gguf'].subarray(0, 4))).toBe('GGUF');
  expect(new TextDecoder().decode(unzipped['tiny-a/Modelfile'])).toContain('FROM ./tiny-a.f16.gguf');
  await expect(rows.filter({ hasText: 'tiny-a' }).getByTestId('gguf-choice')).toHaveCount(0);
  // ONNX: the transformers.js folder, zipped.
  const onnxDownload = page.waitForEvent('download');
  await rows.filter({ hasText: 'tiny-a' }).getByTestId('model-onnx').click();
  const onnxZip = unzipSync(new Uint8Array(readFileSync(await (await onnxDownload).path())));
  expect(Object.keys(onnxZip).sort()).toEqual(['tiny-a/config.json', 'tiny-a/generation_config.json', 'tiny-a/onnx/model.onnx', 'tiny-a/tokenizer.json', 'tiny-a/tokenizer_config.json']);
  expect(JSON.parse(new TextDecoder().decode(onnxZip['tiny-a/config.json'])).model_type).toBe('cohere');
  expect(onnxZip['tiny-a/onnx/model.onnx'].byteLength).toBeGreaterThan(100_000);

  await page.getByRole('link', { name: 'Compare' }).click();
  await page.getByTestId('language').selectOption({ label: 'French' });
  const choice = page.getByTestId('prompt-choice');
  await expect(choice.locator('option', { hasText: 'Article 23' }).first()).toBeAttached();
  await choice.selectOption({ index: 1 });
  const promptText = (await page.getByTestId('prompt-text').textContent())!.trim();
  expect(promptText.length).toBeGreaterThan(20);
  await expect(page.getByTestId('prompt-text')).toHaveAttribute('dir', 'ltr');
  await page.getByText('Show the reference continuation').click();
  await expect(page.getByTestId('reference-text')).toBeVisible();
  expect((await page.getByTestId('reference-text').textContent())!.length).toBeGreaterThan(0);
  await expect(page.getByTestId('prompt-tokens')).toHaveText(/^\d+ tokens$/);
  await expect(page.getByTestId('prompt-stats')).toContainText(/tokens\/character.*tokens\/word/);

  await page.getByRole('checkbox', { name: /tiny-a/ }).check();
  await page.getByRole('checkbox', { name: /tiny-b/ }).check();
  await expect(page.getByTestId('untrained-notice')).toContainText('random initialisation');
  await page.getByLabel('Max new tokens').fill('8');
  await page.getByTestId('generate').click();

  const columns = page.getByTestId('compare-column');
  await expect(columns).toHaveCount(2);
  await expect(columns.nth(0).getByTestId('column-model')).toHaveText('tiny-a');
  await expect(columns.nth(1).getByTestId('column-model')).toHaveText('tiny-b');
  for (let i = 0; i < 2; i++) {
    const col = columns.nth(i);
    await expect(col.getByTestId('stop-reason')).toBeVisible({ timeout: 240_000 });
    await expect(col.getByTestId('stop-reason')).toContainText(/stopped: (max new tokens \(8\)|end of text)/);
    await expect(col.getByTestId('tps')).toHaveText(/^\d+\.\d tokens\/s$/);
    await expect(col.getByTestId('token-count')).toHaveText(/^[1-8] tokens$/);
    expect((await col.getByTestId('completion').textContent())!.length).toBeGreaterThan(0);
    await expect(col).toContainText(promptText);
    await expect(col.getByTestId('untrained-badge')).toBeVisible();
  }
  await expect(page.getByTestId('generate')).toBeEnabled();
  await page.screenshot({ path: 'test-results/screens/compare.png', fullPage: true });

  // Cancel stops the running model and skips the ones after it.
  await page.getByLabel('Max new tokens').fill('200');
  await page.getByTestId('generate').click();
  await expect(columns.nth(0).getByTestId('tps')).toBeVisible();
  await page.getByTestId('cancel').click();
  await expect(columns.nth(0).getByTestId('stop-reason')).toHaveText('stopped: cancelled');
  await expect(columns.nth(1)).toContainText('not run: cancelled');
  await expect(page.getByTestId('generate')).toBeEnabled();
  await page.getByLabel('Max new tokens').fill('8');

  // Settings survive a reload; Arabic is laid out right to left.
  await page.reload();
  await expect(page.getByTestId('language')).toHaveValue('fra');
  await expect(page.getByLabel('Max new tokens')).toHaveValue('8');
  await expect(page.getByRole('checkbox', { name: /tiny-a/ })).toBeChecked();
  await page.getByTestId('language').selectOption({ label: 'Arabic' });
  await expect(page.getByTestId('prompt-text')).toHaveAttribute('dir', 'rtl');
  await expect(page.getByTestId('prompt-text')).toHaveAttribute('lang', 'ar');

  // Delete asks first.
  await page.getByRole('link', { name: 'Models' }).click();
  await rows.filter({ hasText: 'tiny-b' }).getByRole('button', { name: 'Delete' }).click();
  await expect(ownRows(page)).toHaveCount(2);
  await page.getByTestId('confirm-delete').click();
  await expect(ownRows(page)).toHaveCount(1);
});

test('a malformed model folder is refused with the engine’s message', async ({ page }) => {
  await openReady(page, '#models');
  const json = (s: string) => ({ mimeType: 'application/json', buffer: Buffer.from(s) });
  await page.getByLabel('Choose files…').setInputFiles([
    { name: 'config.json', ...json('{ "model_type": "cohere", ') },
    { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.alloc(16) },
    { name: 'tokenizer.json', ...json('{}') },
    { name: 'README.md', mimeType: 'text/markdown', buffer: Buffer.from('# a model') },
  ]);
  const staged = page.getByTestId('import-staged');
  await expect(staged).toContainText('config.json');
  await expect(staged).toContainText('README.md');
  await expect(staged).toContainText('ignored: not part of a model folder');
  await page.getByLabel('Import as').fill('broken');
  await page.getByTestId('import-model').click();
  await expect(page.getByTestId('import-error')).toContainText('broken/config.json: invalid JSON');
  await page.screenshot({ path: 'test-results/screens/models-import-error.png', fullPage: true });
  await expect(ownRows(page)).toHaveCount(0);

  // Nothing was stored. Compare offers the shipped zoo if this build has one, and otherwise says
  // plainly that there is nothing to compare yet.
  const zoo = await page.locator('[data-testid="model-row"][data-origin="builtin"]').count();
  await page.getByRole('link', { name: 'Compare' }).click();
  if (zoo > 0) {
    await expect(page.getByRole('checkbox', { name: /teacher-romance/ })).toBeVisible();
  } else {
    await expect(page.getByTestId('compare-no-models')).toContainText('no models yet');
    await expect(page.getByTestId('compare-no-models').getByRole('link', { name: 'Models' })).toHaveAttribute('href', '#models');
  }
});
