import { expect, type Page } from '@playwright/test';

// The browser tests' small runs on two shipped zoo teachers (Romance and Slavic) in French and
// Russian, their forms filled as a person would.

/** Arbitrage: a pool of the two teachers, reward-based routing, the two languages. */
export async function fillArbitrageRomanceSlavic(page: Page): Promise<void> {
  const form = page.getByTestId('arbitrage-form');
  // The shipped zoo is a precondition: without it this feature is broken, and the test fails.
  await expect(form.getByRole('checkbox', { name: /teacher-romance/ }), 'the shipped model zoo (public/models) must be listed').toBeVisible({ timeout: 30_000 });
  for (const box of await form.getByRole('checkbox', { name: /^(teacher|base)-/ }).all()) await box.uncheck();
  await form.getByRole('checkbox', { name: /teacher-romance/ }).check();
  await form.getByRole('checkbox', { name: /teacher-slavic/ }).check();
  await form.getByRole('radio', { name: /Reward-based/ }).check();
  await form.getByTestId('langs-none').click();
  await form.getByRole('checkbox', { name: 'French' }).check();
  await form.getByRole('checkbox', { name: 'Russian' }).check();
}

/** Evaluate: teacher-romance (A) against teacher-slavic (B) on held-out prompts of the two languages. */
export async function fillEvalRomanceSlavic(page: Page): Promise<void> {
  const a = page.getByTestId('eval-a');
  await expect(a.locator('option[value="builtin:teacher-romance"]'), 'the shipped model zoo (public/models) must be listed').toBeAttached({ timeout: 30_000 });
  await a.selectOption('builtin:teacher-romance');
  await page.getByTestId('eval-b').selectOption('builtin:teacher-slavic');
  await page.getByTestId('eval-source').getByRole('radio', { name: /UDHR held-out/ }).check();
  await page.getByTestId('langs-none').click();
  const langs = page.getByTestId('eval-languages');
  await langs.getByRole('checkbox', { name: 'French' }).check();
  await langs.getByRole('checkbox', { name: 'Russian' }).check();
}
