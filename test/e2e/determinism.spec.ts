import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';

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
