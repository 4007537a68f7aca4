import { expect, test } from '@playwright/test';

// The shipped teachers side by side: on a Russian held-out prompt the Slavic teacher writes
// Cyrillic, the Romance teacher (which never saw Russian) does not.
test('the zoo teachers compare side by side on a held-out prompt', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto('/#models');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const zoo = page.locator('[data-testid="model-row"][data-origin="builtin"]');
  await expect(zoo.first()).toBeVisible({ timeout: 30_000 }).catch(() => undefined);
  test.skip((await zoo.count()) === 0, 'this build ships no model zoo');

  await page.getByRole('link', { name: 'Compare' }).click();
  await page.getByTestId('language').selectOption({ label: 'Russian' });
  const choice = page.getByTestId('prompt-choice');
  await expect(choice.locator('option', { hasText: 'Article 24' }).first()).toBeAttached();
  await choice.selectOption({ index: 4 }); // Article 24: rest and leisure
  await expect(page.getByTestId('prompt-text')).toContainText('отдых');
  for (const name of ['teacher-slavic', 'teacher-romance', 'base-student']) await page.getByRole('checkbox', { name: new RegExp(name) }).check();
  await page.getByLabel('Temperature').fill('0.7');
  await page.getByLabel('Max new tokens').fill('16');
  await page.getByTestId('generate').click();
  const columns = page.getByTestId('compare-column');
  await expect(columns).toHaveCount(3);
  for (let i = 0; i < 3; i++) await expect(columns.nth(i).getByTestId('stop-reason')).toBeVisible({ timeout: 180_000 });
  const slavic = (await columns.filter({ hasText: 'teacher-slavic' }).getByTestId('completion').textContent()) ?? '';
  expect(slavic).toMatch(/[\u0400-\u04FF]/);
  await page.screenshot({ path: 'test-results/screens/compare-teachers.png', fullPage: true });
});
