import { expect, test } from '@playwright/test';

// The Merge panel on the shipped zoo, kept tiny for SwiftShader: a linear merge of base-student and
// teacher-romance measured on French and Russian; the math of one tensor for TIES over two teachers
// with base-student as the base; a simplex sweep of resolution 2 with two objectives (French, Russian).
test('merge two zoo models, compare held-out loss, show the math and search the weights', async ({ page }) => {
  test.setTimeout(540_000);
  await page.goto('/#merge');
  await expect(page.getByTestId('engine-status')).toContainText('swiftshader');
  const form = page.getByTestId('merge-form');
  const box = (id: string) => form.locator(`[data-testid="merge-model"][data-model-id="${id}"]`);
  await expect(box('builtin:teacher-romance'), 'the shipped model zoo (public/models) must be listed').toBeAttached({ timeout: 30_000 });

  // Linear, base-student + teacher-romance (the defaults), weights 1 : 1.
  await form.getByTestId('merge-method-linear').check();
  for (const b of await form.getByTestId('merge-model').all()) await b.uncheck();
  await box('builtin:base-student').check();
  await box('builtin:teacher-romance').check();
  await expect(form.getByTestId('merge-permodel')).toHaveCount(2);
  // A bad gradient list is named; a good one previews the value per layer.
  const weight = form.getByTestId('merge-param-weight');
  await weight.nth(0).fill('[0, 0.5');
  await expect(form.getByRole('alert').first()).toContainText('weight of base-student');
  await expect(page.getByTestId('merge-start')).toBeDisabled();
  await weight.nth(0).fill('[1, 1]');
  await expect(form).toContainText('per layer: emb 1 · L0 1 · L1 1');
  await weight.nth(0).fill('1');
  await weight.nth(1).fill('1');
  await page.getByTestId('merge-name').fill('e2e linear merge');

  const langs = page.getByTestId('merge-languages');
  if (!(await langs.isVisible())) await page.locator('details.langs > summary').click();
  await langs.getByTestId('langs-none').click();
  await langs.getByRole('checkbox', { name: 'French' }).check();
  await langs.getByRole('checkbox', { name: 'Russian' }).check();

  await page.getByTestId('merge-start').click();
  const result = page.getByTestId('merge-result');
  await expect(result.getByTestId('merge-result-name')).toHaveText('e2e linear merge', { timeout: 120_000 });
  const table = result.getByTestId('merge-heldout');
  await expect(table).toBeVisible({ timeout: 240_000 });
  const rows = table.getByTestId('loss-row');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(2)).toHaveAttribute('data-result', 'true');
  for (let i = 0; i < 3; i++) {
    for (const lang of ['fra', 'rus']) {
      const v = Number(await rows.nth(i).locator(`td[data-lang="${lang}"]`).getAttribute('data-value'));
      expect(v, `row ${i} ${lang}`).toBeGreaterThan(0);
      expect(v).toBeLessThan(20);
    }
  }
  // The best input per language is marked (one per column).
  await expect(table.locator('td.best[data-lang="fra"]')).toHaveCount(1);
  await page.screenshot({ path: 'test-results/screens/merge.png', fullPage: true });

  // The result is a stored model whose Models row names its parents.
  const modelId = await rows.nth(2).getAttribute('data-model-id');
  await result.getByTestId('merge-see-models').click();
  const row = page.locator(`[data-testid="model-row"][data-model-id="${modelId}"]`);
  await expect(row.getByTestId('model-merge')).toContainText('linear of base-student, teacher-romance');
  await page.locator('nav a[href="#merge"]').click();
  await expect(page.getByTestId('merge-result-name')).toHaveText('e2e linear merge');

  // YAML: export names the zoo folders; an import naming an unknown model says which.
  await page.locator('summary', { hasText: 'Export as mergekit YAML' }).click();
  await expect(page.getByTestId('merge-yaml-export')).toContainText('merge_method: linear');
  await expect(page.getByTestId('merge-yaml-export')).toContainText('model: public/models/teacher-romance');
  await page.locator('summary', { hasText: 'Import a mergekit YAML' }).click();
  await page.getByTestId('merge-yaml-input').fill('merge_method: ties\nbase_model: base-student\nmodels:\n  - model: teacher-romance\n    parameters: {weight: 1, density: 0.5}\n  - model: org/not-here\n    parameters: {weight: 1}\n');
  await page.getByTestId('merge-yaml-load').click();
  await expect(page.getByTestId('merge-yaml-message')).toContainText('not stored in this browser: “org/not-here”');
  // A good one fills the form: TIES over two teachers on base-student.
  await page
    .getByTestId('merge-yaml-input')
    .fill('merge_method: ties\nbase_model: public/models/base-student\nmodels:\n  - model: teacher-romance\n    parameters: {weight: 1, density: 0.5}\n  - model: teacher-slavic\n    parameters: {weight: 1, density: 0.5}\nparameters: {normalize: true}\n');
  await page.getByTestId('merge-yaml-load').click();
  await expect(page.getByTestId('merge-yaml-message')).toContainText('Loaded pasted YAML: ties, 2 models + base');
  await expect(form.getByTestId('merge-method-ties')).toBeChecked();
  await expect(form.getByTestId('merge-base')).toHaveValue('builtin:base-student');
  await expect(form.getByTestId('merge-permodel')).toHaveCount(2);

  // The math for one tensor.
  const math = page.getByTestId('merge-math');
  await math.getByTestId('merge-inspect').click();
  await expect(math.getByTestId('merge-tensor')).toBeVisible({ timeout: 60_000 });
  await math.getByTestId('merge-tensor').selectOption('model.layers.1.self_attn.v_proj.weight');
  await math.getByTestId('merge-density').fill('0.3');
  await expect(math.getByTestId('merge-math-subject')).toContainText('model.layers.1.self_attn.v_proj.weight', { timeout: 60_000 });
  await expect(math.getByTestId('dare-density').first()).toHaveAttribute('data-value', '0.3', { timeout: 60_000 });
  // SLERP: an angle, the arc and the chord, and the t slider moves the points.
  const theta = Number(await math.getByTestId('slerp-theta').getAttribute('data-value'));
  expect(theta).toBeGreaterThan(0);
  expect(theta).toBeLessThan(180);
  expect(await math.getByTestId('slerp-arc').getAttribute('d')).toMatch(/^M[\d.-]+,[\d.-]+( L[\d.-]+,[\d.-]+){10,}/);
  await math.getByTestId('slerp-t').fill('0.25');
  await expect(math.getByTestId('slerp-t-value')).toHaveText('0.25');
  // TIES: a trim and a disjoint mask per teacher, one elected-sign grid; kept ≈ density.
  await expect(math.getByTestId('ties-trim')).toHaveCount(2);
  await expect(math.getByTestId('ties-elect')).toHaveCount(1);
  await expect(math.getByTestId('ties-disjoint')).toHaveCount(2);
  await expect(math.getByTestId('ties-trim').first()).toContainText('kept 30.0%');
  // DARE: dropped ≈ 1 − density; both rescale factors shown (1/density = 3.333).
  const dare = math.getByTestId('dare-row');
  await expect(dare).toHaveCount(2);
  for (let i = 0; i < 2; i++) {
    const dropped = Number(await dare.nth(i).getByTestId('dare-dropped').getAttribute('data-value'));
    expect(Math.abs(dropped - 0.7)).toBeLessThan(0.05);
    expect(Number(await dare.nth(i).getByTestId('dare-rescale-inv').getAttribute('data-value'))).toBeCloseTo(1 / 0.3, 3);
    const l1 = Number(await dare.nth(i).getByTestId('dare-rescale-l1').getAttribute('data-value'));
    expect(l1).toBeGreaterThan(1.5);
    expect(l1).toBeLessThan(8);
  }
  // Per layer: cosine and sign conflict between the two task vectors.
  await expect(math.getByTestId('layer-cosine')).toBeVisible();
  await expect(math.getByTestId('layer-conflict').locator('text.val')).toHaveCount(4); // embeddings, 2 layers, final norm
  await math.getByTestId('math-ties').scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/screens/merge-math.png', fullPage: true });

  // Weight search: simplex with step 1/2 over the two teachers, French vs Russian.
  const search = page.getByTestId('merge-search');
  await search.getByTestId('search-strategy-simplex').check();
  await search.getByTestId('search-resolution').fill('2');
  await search.getByTestId('search-two').check();
  await search.getByTestId('search-name-a').fill('French');
  await search.getByTestId('search-langs-a').getByTestId('langs-none').click();
  await search.getByTestId('search-langs-a').getByRole('checkbox', { name: 'French' }).check();
  await search.getByTestId('search-name-b').fill('Russian');
  await search.getByTestId('search-langs-b').getByTestId('langs-none').click();
  await search.getByTestId('search-langs-b').getByRole('checkbox', { name: 'Russian' }).check();
  await expect(search.getByTestId('search-plan')).toContainText('3 merges, each measured on 2 languages');
  await search.getByTestId('search-start').click();
  const found = search.getByTestId('search-result');
  await expect(found).toBeVisible({ timeout: 300_000 });
  await expect(found.getByTestId('search-best-weight')).toHaveCount(2);
  await expect(found.getByTestId('search-points').locator('tbody tr')).toHaveCount(3 + 3); // 3 inputs + 3 merges
  await expect(found.getByTestId('pareto-chart')).toBeVisible();
  expect(await found.getByTestId('pareto-point').count()).toBeGreaterThanOrEqual(1);
  // The interpolation lines (2 models): one per language.
  await expect(math.getByTestId('interp-line')).toHaveCount(2);
  // The best weights go back into the form.
  const best = await found.getByTestId('search-best-weight').allTextContents();
  await found.getByTestId('search-use-best').click();
  await expect(form.getByTestId('merge-param-weight').nth(0)).toHaveValue(String(Number(Number(best[0]).toFixed(4))));
  await search.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/screens/merge-search.png', fullPage: true });
});
