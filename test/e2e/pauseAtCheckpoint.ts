import type { Page } from '@playwright/test';

/** Pauses a run the moment the checkpoint of `step` is listed in `list` (a click from the test could
 *  come too late for steps this small): the engine pauses before its next step. */
export function pauseAtCheckpoint(page: Page, step: number, list: string, pause: string): Promise<void> {
  return page.evaluate(
    ({ at, list, pause }) => {
      const obs = new MutationObserver(() => {
        if (!document.querySelector(`[data-testid="${list}"]`)?.textContent?.includes(`step ${at}`)) return;
        const button = document.querySelector<HTMLButtonElement>(`[data-testid="${pause}"]`);
        if (button && !button.disabled) {
          button.click();
          obs.disconnect();
        }
      });
      obs.observe(document.body, { subtree: true, childList: true, characterData: true });
    },
    { at: step, list, pause },
  );
}
