// Compare, as a person runs it: our teacher-romance beside a teacher from elsewhere (the one whose
// picker row shows `teacherText`), French, greedy, 12 tokens; both columns finished, the same text.
import { expect, type Page } from '@playwright/test';

export async function compareGreedyWithTeacher(page: Page, teacherText: string, backend: string | RegExp): Promise<void> {
  await page.locator('nav').getByRole('link', { name: 'Compare' }).click();
  await page.getByTestId('language').selectOption({ label: 'French' });
  await page.getByRole('checkbox', { name: /^teacher-romance tiny/ }).check();
  const teacher = page.getByTestId('picker-teacher').filter({ hasText: teacherText });
  await teacher.getByRole('checkbox').check();
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Max new tokens').fill('12');
  await page.getByTestId('generate').click();
  const columns = page.getByTestId('compare-column');
  await expect(columns).toHaveCount(2);
  for (let i = 0; i < 2; i++) await expect(columns.nth(i).getByTestId('stop-reason')).toBeVisible({ timeout: 180_000 });
  await expect(columns.nth(1).getByTestId('column-backend')).toContainText(backend);
  // Greedy decoding of the same weights: the other runtime writes what our engine writes.
  const ours = (await columns.nth(0).getByTestId('completion').textContent())!;
  expect(ours.length).toBeGreaterThan(0);
  expect(await columns.nth(1).getByTestId('completion').textContent()).toBe(ours);
}
