import { readFile } from 'node:fs/promises';
import { expect, test } from '@playwright/test';
import { fillEvalRomanceSlavic } from './zooForms.ts';

// Head-to-head on the shipped zoo, kept tiny for SwiftShader: two teachers, French and Russian,
// 2 held-out prompts each, 8 new tokens → 4 comparisons (8 completions).
test('evaluate two zoo teachers head-to-head: per-language bars, intervals, transcripts, CSV, kept across a reload', async ({ page }) => {
  test.setTimeout(420_000);
  await page.goto('/#evaluate');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  await fillEvalRomanceSlavic(page);
  await page.getByLabel(/^Prompts per language/).fill('2');
  await page.getByLabel(/^Samples per prompt/).fill('1');
  await page.getByLabel(/^Max new tokens/).fill('8');
  await page.getByLabel(/^Bootstrap resamples/).fill('1000');
  await expect(page.getByTestId('eval-plan')).toContainText('4 prompts × 1 sample = 4 comparisons');
  await page.getByTestId('eval-start').click();

  // The finished report: French and Russian rows by name, n = 2 each, numbers consistent.
  const report = page.getByTestId('eval-report');
  await expect(report).toHaveAttribute('data-partial', 'false', { timeout: 360_000 });
  await expect(page.getByTestId('eval-history-row')).toHaveCount(1);
  const rows = report.getByTestId('eval-row');
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toContainText('French');
  await expect(rows.nth(1)).toContainText('Russian');
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  for (const row of [rows.nth(0), rows.nth(1), report.getByTestId('eval-overall')]) {
    const [w, t, l] = ((await row.getByTestId('eval-wtl').textContent()) ?? '').split('/').map((x) => Number(x.trim()));
    const n = Number(await row.getByTestId('eval-n').textContent());
    expect(w + t + l).toBe(n);
    await expect(row.getByTestId('eval-winrate')).toHaveText(pct((w + t / 2) / n));
    const ci = ((await row.getByTestId('eval-ci').textContent()) ?? '').match(/(\d+\.\d)% – (\d+\.\d)%/);
    expect(ci, 'an interval is shown').not.toBeNull();
    const [lo, hi] = [Number(ci![1]), Number(ci![2])];
    expect(lo).toBeLessThanOrEqual(hi);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(100);
  }
  for (let i = 0; i < 2; i++) await expect(rows.nth(i).getByTestId('eval-n')).toHaveText('2');
  await expect(report.getByTestId('eval-overall').getByTestId('eval-n')).toHaveText('4');
  // 4 prompts: an interval that stays wide (Wilson), and no winner called below 10 prompts.
  await expect(report.getByTestId('eval-interval-words')).toContainText('No winner is called below 10 prompts');
  await expect(report.getByTestId('eval-too-few')).toHaveText('too few prompts to call');
  for (const row of [rows.nth(0), rows.nth(1), report.getByTestId('eval-overall')]) {
    await expect(row.getByTestId('eval-separation')).toContainText('too few prompts to call');
    const ci = ((await row.getByTestId('eval-ci').textContent()) ?? '').match(/(\d+\.\d)% – (\d+\.\d)%/)!;
    expect(Number(ci[2]) - Number(ci[1]), 'a 95% interval over 2–4 prompts is wide').toBeGreaterThan(30);
  }
  await page.screenshot({ path: 'test-results/screens/evaluate.png', fullPage: true });

  // The transcripts behind the Russian row: 2 comparisons, both completions, Cyrillic prompts.
  await rows.filter({ hasText: 'Russian' }).click();
  const tr = page.getByTestId('eval-transcripts');
  await expect(tr).toContainText('Russian: 2 comparisons');
  const items = tr.getByTestId('transcript');
  await expect(items).toHaveCount(2);
  for (let i = 0; i < 2; i++) {
    await expect(items.nth(i).getByTestId('transcript-prompt')).toContainText(/[\u0400-\u04FF]/);
    await expect(items.nth(i).getByTestId('completion-a')).toContainText('teacher-romance');
    await expect(items.nth(i).getByTestId('completion-b')).toContainText('teacher-slavic');
    await expect(items.nth(i).getByTestId('transcript-verdict')).toHaveText(/^(A wins|B wins|Tie)/);
  }
  await tr.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/screens/evaluate-transcripts.png', fullPage: true });

  // The CSV export: evalCsv's header, then a row per language and the overall row.
  const download = page.waitForEvent('download');
  await report.getByTestId('eval-export-csv').click();
  const csv = await readFile((await (await download).path())!, 'utf8');
  const lines = csv.trim().split('\n');
  expect(lines[0]).toMatch(/^language,model_a,model_b,n,/);
  expect(lines.map((l) => l.split(',')[0])).toEqual(['language', 'fra', 'rus', 'overall']);

  // A reload: the report is still listed, and shown.
  await page.reload();
  await expect(page.getByTestId('eval-history-row')).toHaveCount(1);
  await expect(page.getByTestId('eval-history-row')).toContainText('teacher-romance');
  await expect(page.getByTestId('eval-report').getByTestId('eval-row')).toHaveCount(2);
  await expect(page.getByLabel(/^Max new tokens/)).toHaveValue('8');
});

// An imported prompt file: a malformed one shows the engine's own error; a good one runs, and a
// cancelled run keeps what it finished, marked as partial (also in the list of past reports).
test('evaluate: a malformed JSONL shows the engine error; a cancelled run is kept as partial', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('/#evaluate');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const a = page.getByTestId('eval-a');
  await expect(a.locator('option[value="builtin:teacher-romance"]'), 'the shipped model zoo (public/models) must be listed').toBeAttached({ timeout: 30_000 });
  await a.selectOption('builtin:teacher-romance');
  await page.getByTestId('eval-b').selectOption('builtin:teacher-slavic');

  await page.getByTestId('eval-source').getByRole('radio', { name: /Your own JSONL/ }).check();
  const file = page.getByTestId('eval-jsonl-file');
  await file.setInputFiles({ name: 'bad.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from('{"prompt": "Bonjour", "language": "fra"}\n{"prompt": 3}\n') });
  await expect(page.getByTestId('eval-jsonl-error')).toContainText('bad.jsonl:2');
  await expect(page.getByTestId('eval-start')).toBeDisabled();

  const lines = [
    { prompt: 'Toute personne a droit au travail,', language: 'fra', reference: 'au libre choix de son travail.' },
    { prompt: 'Toute personne a droit au repos', language: 'fra' },
    { prompt: 'Toute personne a droit à un niveau de vie', language: 'fra' },
    { prompt: 'Каждый человек имеет право на труд,', language: 'rus' },
    { prompt: 'Каждый человек имеет право на отдых', language: 'rus' },
    { question_id: 'q6', prompt: 'Каждый человек имеет право на образование', language: 'rus' },
  ];
  await file.setInputFiles({ name: 'rights.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n') + '\n') });
  await expect(page.getByTestId('eval-jsonl-summary')).toContainText('6 prompts from rights.jsonl in 2 languages');
  await page.getByTestId('langs-none').click();
  const langs = page.getByTestId('eval-languages');
  await langs.getByRole('checkbox', { name: 'French' }).check();
  await langs.getByRole('checkbox', { name: 'Russian' }).check();
  await page.getByLabel(/^Prompts per language/).fill('3');
  await page.getByLabel(/^Max new tokens/).fill('24');
  await expect(page.getByTestId('eval-plan')).toContainText('6 prompts × 1 sample = 6 comparisons');

  await page.getByTestId('eval-start').click();
  // Batched sampling can finish two comparisons in one update, so any count short of 6 will do.
  await expect(page.getByTestId('eval-live')).toContainText(/Running: [1-5] comparisons? of 6/, { timeout: 180_000 });
  await page.screenshot({ path: 'test-results/screens/evaluate-running.png', fullPage: true });
  await page.getByTestId('eval-cancel').click();
  const report = page.getByTestId('eval-report');
  await expect(page.getByTestId('eval-partial')).toContainText(/Partial: cancelled after \d comparisons? of 6/, { timeout: 120_000 });
  await expect(report).toHaveAttribute('data-partial', 'true');
  await expect(page.getByTestId('eval-history-row')).toHaveCount(1);
  await expect(page.getByTestId('eval-history-row')).toContainText('partial');
  await expect(page.getByTestId('eval-history-row')).toContainText('JSONL rights.jsonl');
  await page.screenshot({ path: 'test-results/screens/evaluate-partial.png', fullPage: true });
});
