import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fillArbitrageRomanceSlavic } from './zooForms.ts';

// Arbitrage in the browser on the shipped zoo: reward-based with two teachers on French prompts,
// then the learned router trained on that run; the heatmap, the cost and the TRL exports.
test('arbitrage runs reward-based and learned routing, shows the heatmap and exports TRL JSONL', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto('/#arbitrage');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  // Pool: the Romance and Slavic teachers only.
  await fillArbitrageRomanceSlavic(page);
  const form = page.getByTestId('arbitrage-form');
  await form.getByLabel('Prompts per language').fill('2');
  await form.getByLabel('Max new tokens').fill('8');
  await expect(form).toContainText('8 completions to sample');
  await page.getByTestId('arbitrage-start').click();
  const results = page.getByTestId('arbitrage-results');
  await expect(results.getByTestId('arbitrage-cost')).toHaveText('8', { timeout: 300_000 });
  const heat = results.getByTestId('selection-heatmap');
  await expect(heat.locator('tbody tr')).toHaveCount(2);
  // Each language row counts its 2 prompts, split between the two teachers.
  for (const row of await heat.locator('tbody tr').all()) await expect(row.locator('td').last()).toHaveText('2');
  await expect(results.getByTestId('generations-table').locator('tbody tr')).toHaveCount(8);
  await page.screenshot({ path: 'test-results/screens/arbitrage.png', fullPage: true });

  // The SFT export is TRL prompt/completion JSONL, one line per prompt.
  const dl = page.waitForEvent('download');
  await results.getByTestId('export-sft').click();
  const lines = readFileSync(await (await dl).path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(lines).toHaveLength(4);
  for (const l of lines) {
    expect(typeof l.prompt).toBe('string');
    expect(typeof l.completion).toBe('string');
    expect(['fra', 'rus']).toContain(l.language);
  }

  // The learned router learns from that run and asks one teacher per prompt.
  await form.getByRole('radio', { name: /Learned router/ }).check();
  await expect(page.getByTestId('router-run').locator('option')).toHaveCount(1);
  await page.getByTestId('arbitrage-start').click();
  await expect(results.getByTestId('arbitrage-cost')).toHaveText('4', { timeout: 300_000 });
  await expect(results.getByTestId('arbitrage-summary')).toContainText('Router agreed');
  await expect(results.getByTestId('strategy-means').locator('thead th')).toHaveCount(3); // language + 2 runs

  // Kept across a reload.
  await page.reload();
  await expect(page.getByTestId('run-picker').locator('option')).toHaveCount(2);
  await expect(results.getByTestId('arbitrage-cost')).toHaveText('4');
});
