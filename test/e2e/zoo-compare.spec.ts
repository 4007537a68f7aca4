import { expect, test } from '@playwright/test';

// The shipped teachers side by side: on a Russian held-out prompt the Slavic teacher writes
// Cyrillic, the Romance teacher (which never saw Russian) does not.
test('the zoo teachers compare side by side on a held-out prompt', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto('/#models');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const zoo = page.locator('[data-testid="model-row"][data-origin="builtin"]');
  await expect(zoo.first(), 'the shipped model zoo (public/models) must be listed').toBeVisible({ timeout: 30_000 });

  await page.getByRole('link', { name: 'Compare' }).click();
  await page.getByTestId('language').selectOption({ label: 'Russian' });
  const choice = page.getByTestId('prompt-choice');
  await expect(choice.locator('option', { hasText: 'Article 24' }).first()).toBeAttached();
  await choice.selectOption({ index: 4 }); // Article 24: rest and leisure
  await expect(page.getByTestId('prompt-text')).toContainText('отдых');
  for (const name of ['teacher-slavic', 'teacher-romance', 'base-student']) await page.getByRole('checkbox', { name: new RegExp(name) }).check();
  await page.getByLabel('Temperature').fill('0.7');
  await page.getByLabel('Max new tokens').fill('24');
  // min_new_tokens (default 16): the teachers may not stop after a word or two.
  await expect(page.getByLabel('Min new tokens')).toHaveValue('16');
  await page.getByTestId('generate').click();
  const columns = page.getByTestId('compare-column');
  await expect(columns).toHaveCount(3);
  for (let i = 0; i < 3; i++) {
    await expect(columns.nth(i).getByTestId('stop-reason')).toBeVisible({ timeout: 180_000 });
    const tokens = Number(((await columns.nth(i).getByTestId('token-count').textContent()) ?? '').match(/\d+/)![0]);
    expect(tokens, 'no <eos> before 16 new tokens').toBeGreaterThanOrEqual(16);
  }
  const slavic = (await columns.filter({ hasText: 'teacher-slavic' }).getByTestId('completion').textContent()) ?? '';
  expect(slavic).toMatch(/[\u0400-\u04FF]/);

  // The Arbiter scores every column: a reward, three component bars, the best one marked.
  for (let i = 0; i < 3; i++) {
    await expect(columns.nth(i).getByTestId('reward-value')).toHaveText(/^\d\.\d{3}$/);
    await expect(columns.nth(i).getByTestId('component-adequacy')).toBeVisible(); // a held-out prompt has a reference
    // Fluency's raw value and the language's scale beside the bar, so a 0 can be read.
    await expect(columns.nth(i).getByTestId('fluency-raw')).toHaveText(/^-\d\.\d\d nats\/char\s·\s0 = -\d\.\d\d, 1 = -\d\.\d\d/);
    await expect(columns.nth(i).getByTestId('component-fluency')).toHaveAttribute('title', /The scale runs from 0 at -\d\.\d\d nats\/char \(uniformly random characters of the \d+ seen in training\) to 1 at/);
  }
  const rewards = await Promise.all([0, 1, 2].map(async (i) => Number(await columns.nth(i).getByTestId('reward-value').textContent())));
  const bestIdx = rewards.indexOf(Math.max(...rewards));
  await expect(columns.nth(bestIdx).getByTestId('best-badge')).toBeVisible();
  // The Slavic teacher's Cyrillic scores higher on language than the Romance teacher's text.
  const langOf = async (name: string) => Number((await columns.filter({ hasText: name }).getByTestId('component-language').textContent())!.match(/\d\.\d\d/)![0]);
  expect(await langOf('teacher-slavic')).toBeGreaterThan(await langOf('teacher-romance'));

  // Changing a weight re-scores without generating: language only → reward = the language component.
  await page.locator('summary', { hasText: 'Arbiter weights' }).click();
  for (const c of ['Fluency', 'Adequacy']) await page.getByLabel(`${c} weight`).fill('0');
  const slavicCol = columns.filter({ hasText: 'teacher-slavic' });
  await expect.poll(async () => Math.abs(Number(await slavicCol.getByTestId('reward-value').textContent()) - (await langOf('teacher-slavic')))).toBeLessThan(0.006);
  await page.getByRole('button', { name: 'Reset to defaults' }).click();

  // A human preference: left (1) vs right (2), stored and exportable as TRL JSONL.
  const bar = page.getByTestId('preference-bar');
  await bar.getByLabel('Left column').selectOption({ index: 0 });
  await bar.getByTestId('prefer-right').click();
  await expect(bar.getByTestId('preference-recorded')).toContainText('2 is better');
  await expect(bar.getByTestId('preference-count')).toContainText('1 preference pair saved');
  await page.screenshot({ path: 'test-results/screens/compare-teachers.png', fullPage: true });
  const download = page.waitForEvent('download');
  await bar.getByTestId('preference-export').click();
  const file = await (await download).path();
  const { readFileSync } = await import('node:fs');
  const line = JSON.parse(readFileSync(file, 'utf8').trim().split('\n')[0]);
  expect(Object.keys(line).slice(0, 3)).toEqual(['prompt', 'chosen', 'rejected']);
  expect(line.language).toBe('rus');
  expect(line.chosen).toBe((await columns.nth(1).getByTestId('completion').textContent()) ?? '');
  // Kept across a reload.
  await page.reload();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('preference-count')).toContainText('1 preference pair saved', { timeout: 180_000 });
});
