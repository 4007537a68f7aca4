import { expect, test, type CDPSession, type Page } from '@playwright/test';
import { fillFrenchRun, startPausedAt } from './trainForm.ts';

// Browser storage filling up (issue 15), in Chromium's real IndexedDB: the DevTools protocol lowers
// this origin's quota (Storage.overrideQuotaForOrigin) below what is already stored, so the
// next model's write is refused by the browser itself (once its cached headroom has run out). A new model that does not fit is not listed
// (now or after a reload) and every earlier one still loads; a training run whose next checkpoint
// does not fit fails plainly, keeps the checkpoint before it, and resumes once there is room.

const ORIGIN = 'http://127.0.0.1:4173';
const rowNamed = (page: Page, name: string) =>
  page.getByTestId('model-row').filter({ has: page.getByTestId('model-name').getByText(name, { exact: true }) });

// A quota below what is stored: every write is refused, as on a full disk. (A little room above
// the usage would not stay little: an overwritten checkpoint's blob files are deleted after the
// write, so each checkpoint would free the room the next one needs.)
async function squeezeQuota(cdp: CDPSession): Promise<void> {
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: ORIGIN, quotaSize: 1 });
  // Chromium's IndexedDB keeps the free space it last asked the quota manager for, decaying over
  // 30 s, before it asks again (BucketContext::kBucketSpaceCacheTimeLimit): until then a big write
  // is still let through from that cache, as it would be on a disk that has just filled.
  await new Promise((r) => setTimeout(r, 32_000));
}
const liftQuota = (cdp: CDPSession) => cdp.send('Storage.overrideQuotaForOrigin', { origin: ORIGIN });

async function createTiny(page: Page, name: string): Promise<void> {
  const form = page.locator('#create');
  await form.getByLabel('Name').fill(name);
  await form.getByRole('radio', { name: /tiny/ }).check();
  await page.getByTestId('create-model').click();
}

test('a full IndexedDB: a new model is not listed, earlier ones load; a run keeps its last checkpoint and resumes', async ({ page }) => {
  test.setTimeout(600_000);
  const cdp = await page.context().newCDPSession(page);
  await page.goto('/#models');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await createTiny(page, 'kept-base');
  await expect(rowNamed(page, 'kept-base')).toBeVisible({ timeout: 60_000 });
  const baseId = (await rowNamed(page, 'kept-base').getAttribute('data-model-id'))!;

  // A second tiny model (~1.8 MB) with no room left: refused, said plainly, not listed.
  await squeezeQuota(cdp);
  await createTiny(page, 'does-not-fit');
  await expect(page.locator('#create').getByRole('alert')).toContainText("Browser storage is full: model 'does-not-fit' was not saved. Models saved earlier are kept", { timeout: 60_000 });
  await expect(rowNamed(page, 'does-not-fit')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/screens/storage-full-create.png', fullPage: true });
  await page.reload();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await expect(rowNamed(page, 'kept-base')).toBeVisible();
  await expect(rowNamed(page, 'does-not-fit')).toHaveCount(0);
  await liftQuota(cdp);

  // A training run with a checkpoint every 2 steps; the room runs out after its step-2 checkpoint
  // (the pause takes effect before step 3 or 4, so the step-4 checkpoint is the one that fails).
  await fillFrenchRun(page, { modelId: baseId, name: 'squeezed-fra', steps: 6, evalEvery: 0, checkpointEvery: 2 });
  await startPausedAt(page, 2);
  await squeezeQuota(cdp);
  await page.getByTestId('train-resume').click();
  const outcome = page.getByTestId('train-outcome');
  await expect(outcome).toHaveAttribute('data-status', /error|done|non-finite/, { timeout: 300_000 });
  await expect(outcome).toHaveAttribute('data-status', 'error');
  await expect(outcome).toContainText("Browser storage is full: model 'squeezed-fra' was not saved. Models saved earlier are kept");
  await expect(outcome).toContainText('Its last checkpoint, step 2, is saved as squeezed-fra');
  const resume = page.getByTestId('train-resume-run');
  await expect(resume).toHaveText('Resume from step 2');
  await page.screenshot({ path: 'test-results/screens/storage-full-train.png', fullPage: true });

  // Room again (after deleting something, say): a reload finds the checkpoint, and Resume finishes.
  await liftQuota(cdp);
  await page.reload();
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await page.locator('nav').getByRole('link', { name: 'Train' }).click();
  await resume.click();
  await expect(outcome).toHaveAttribute('data-status', /done|error|non-finite/, { timeout: 300_000 });
  expect(await outcome.textContent()).not.toMatch(/failed|Stopped/);
  await expect(outcome).toContainText('Done: 6 steps');
  await page.locator('nav').getByRole('link', { name: 'Models' }).click();
  await expect(rowNamed(page, 'squeezed-fra').getByTestId('model-training')).toContainText('6/6 steps · complete');
  await expect(rowNamed(page, 'kept-base')).toBeVisible();
});
