// Merge configs: mergekit's parameter resolution (gradients, filters, precedence, layer positions),
// validation errors, and mergekit YAML import/export round trips.
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { dareKey, evaluateSetting, type MergeConfig, parameterSchedule, planTensor, tensorPosition, validateMergeConfig } from '../../src/merge/config.ts';
import { parseMergekitYaml, toMergekitYaml } from '../../src/merge/yaml.ts';

describe('merge config: parameter resolution (mergekit evaluate_setting / ConfigReader)', () => {
  it('a gradient list is sampled piecewise-linearly', () => {
    // [0, 0.5, 1]: t·2 → i0, frac
    expect(evaluateSetting('x', [0, 0.5, 1], 0)).toBe(0);
    expect(evaluateSetting('x', [0, 0.5, 1], 0.25)).toBe(0.25);
    expect(evaluateSetting('x', [0, 0.5, 1], 1)).toBe(1);
    // [1, 0.7, 0.1] at t = 0.75: s = 1.5 → ½·0.7 + ½·0.1 = 0.4
    expect(evaluateSetting('x', [1, 0.7, 0.1], 0.75)).toBeCloseTo(0.4, 12);
    // a list of non-numbers is indexed by ⌊t·(n−1)⌋
    expect(evaluateSetting('x', [true, false] as unknown as number[], 0.99)).toBe(true);
  });

  it('layer i of L sits at i/(L−1); embeddings and the final norm at 0 (first value)', () => {
    expect(tensorPosition('model.layers.0.mlp.up_proj.weight', 4)).toEqual({ layer: 0, t: 0 });
    expect(tensorPosition('model.layers.2.self_attn.q_proj.weight', 4).t).toBeCloseTo(2 / 3, 12);
    expect(tensorPosition('model.layers.3.input_layernorm.weight', 4).t).toBe(1);
    expect(tensorPosition('model.layers.0.input_layernorm.weight', 1).t).toBe(1); // one layer: t = 1
    expect(tensorPosition('model.embed_tokens.weight', 4)).toEqual({ layer: null, t: 0 });
    expect(tensorPosition('model.norm.weight', 4)).toEqual({ layer: null, t: 0 });
    const config: MergeConfig = { method: 'slerp', baseModel: 'a', models: [{ model: 'a' }, { model: 'b' }], parameters: { t: [0.2, 0.5, 0.9] } };
    expect(planTensor(config, 'model.embed_tokens.weight', 3).t).toBe(0.2);
    expect(planTensor(config, 'model.norm.weight', 3).t).toBe(0.2);
    expect(planTensor(config, 'model.layers.1.mlp.down_proj.weight', 3).t).toBe(0.5);
    expect(planTensor(config, 'model.layers.2.mlp.down_proj.weight', 3).t).toBe(0.9);
  });

  it('filter entries match by substring, first match wins, an entry without filter is the fallback', () => {
    const t = [{ filter: 'self_attn', value: 0.3 }, { filter: 'mlp', value: [0, 1] }, { value: 0.5 }];
    const config: MergeConfig = { method: 'slerp', baseModel: 'a', models: [{ model: 'a' }, { model: 'b' }], parameters: { t } };
    expect(planTensor(config, 'model.layers.3.self_attn.q_proj.weight', 4).t).toBe(0.3);
    expect(planTensor(config, 'model.layers.3.mlp.up_proj.weight', 4).t).toBe(1);
    expect(planTensor(config, 'model.layers.1.mlp.up_proj.weight', 4).t).toBeCloseTo(1 / 3, 12);
    expect(planTensor(config, 'model.layers.1.input_layernorm.weight', 4).t).toBe(0.5);
    expect(planTensor(config, 'model.embed_tokens.weight', 4).t).toBe(0.5);
    expect(evaluateSetting('model.norm.weight', [{ filter: 'mlp', value: 1 }], 0)).toBeUndefined();
  });

  it("a model's own parameters win over the global ones; an unmatched filter falls through", () => {
    const config: MergeConfig = {
      method: 'ties',
      baseModel: 'base',
      models: [
        { model: 'a', parameters: { weight: 2, density: [{ filter: 'mlp', value: 0.2 }] } },
        { model: 'b' },
      ],
      parameters: { weight: 0.5, density: 0.7 },
    };
    const mlp = planTensor(config, 'model.layers.0.mlp.up_proj.weight', 2);
    expect(mlp.weights).toEqual([2, 0.5]);
    expect(mlp.densities).toEqual([0.2, 0.7]);
    expect(planTensor(config, 'model.layers.0.self_attn.q_proj.weight', 2).densities).toEqual([0.7, 0.7]);
    expect(mlp.inputs).toEqual(['base', 'a', 'b']);
    expect(mlp.normalize).toBe(true); // ties' default
    expect(mlp.rescale).toBe('none');
  });

  it("method defaults follow mergekit's registry", () => {
    const plan = (method: MergeConfig['method']) => planTensor({ method, baseModel: 'b', models: [{ model: 'a', parameters: { weight: 1 } }, { model: 'c', parameters: { weight: 1 } }] }, 'model.norm.weight', 2);
    expect([plan('task_arithmetic').normalize, plan('task_arithmetic').rescale]).toEqual([false, 'none']);
    expect([plan('ties').normalize, plan('ties').rescale, plan('ties').consensus]).toEqual([true, 'none', 'sum']);
    expect([plan('dare_linear').normalize, plan('dare_linear').rescale, plan('dare_linear').consensus]).toEqual([false, 'l1', null]);
    expect([plan('dare_ties').normalize, plan('dare_ties').rescale, plan('dare_ties').consensus]).toEqual([false, 'l1', 'sum']);
    expect([plan('breadcrumbs').normalize, plan('breadcrumbs').gammas]).toEqual([false, [0.01, 0.01]]);
    expect(planTensor({ method: 'linear', models: [{ model: 'a', parameters: { weight: 1 } }] }, 'model.norm.weight', 2).normalize).toBe(true);
    expect(plan('dare_ties').dareKeys).toHaveLength(2);
  });

  it('a missing required parameter names the model and the tensor', () => {
    const config: MergeConfig = { method: 'ties', baseModel: 'base', models: [{ model: 'a', parameters: { weight: [{ filter: 'mlp', value: 1 }] } }] };
    expect(() => planTensor(config, 'model.layers.0.self_attn.q_proj.weight', 2)).toThrow(/missing required parameter a: weight for model\.layers\.0\.self_attn\.q_proj\.weight/);
    expect(() => planTensor({ method: 'slerp', baseModel: 'a', models: [{ model: 'a' }, { model: 'b' }] }, 'model.norm.weight', 2)).toThrow(/missing required parameter t/);
    expect(() => planTensor({ method: 'linear', models: [{ model: 'a', parameters: { weight: 1 } }, { model: 'b', parameters: { weight: -1 } }] }, 'model.norm.weight', 2)).toThrow(/sum to 0/);
    expect(() => planTensor({ method: 'ties', baseModel: 'x', models: [{ model: 'a', parameters: { weight: 1, density: -0.5 } }] }, 'model.norm.weight', 2)).toThrow(/a: density for model\.norm\.weight is -0\.5/);
    expect(() => planTensor({ method: 'dare_ties', baseModel: 'x', models: [{ model: 'a', parameters: { weight: 1 } }], parameters: { rescale: 'l2' } }, 'model.norm.weight', 2)).toThrow(/rescale .* 'inverse_density'/);
  });

  it('rescale: true is mergekit’s L1 matching; inverse_density is the paper’s rule', () => {
    const base: MergeConfig = { method: 'dare_linear', baseModel: 'x', models: [{ model: 'a', parameters: { weight: 1, density: 0.5 } }] };
    expect(planTensor({ ...base, parameters: { rescale: true } }, 'model.norm.weight', 2).rescale).toBe('l1');
    expect(planTensor({ ...base, parameters: { rescale: false } }, 'model.norm.weight', 2).rescale).toBe('none');
    expect(planTensor({ ...base, parameters: { rescale: 'inverse_density' } }, 'model.norm.weight', 2).rescale).toBe('inverse_density');
  });

  it('rejects configs mergekit would reject (or that cannot merge here), naming the problem', () => {
    const two = [{ model: 'a', parameters: { weight: 1 } }, { model: 'b', parameters: { weight: 1 } }];
    expect(() => validateMergeConfig({ method: 'frankenmerge' as 'linear', models: two })).toThrow(/merge_method 'frankenmerge' is not supported/);
    expect(() => validateMergeConfig({ method: 'ties', models: two })).toThrow(/ties needs a base_model/);
    expect(() => validateMergeConfig({ method: 'slerp', baseModel: 'a', models: [...two, { model: 'c' }] })).toThrow(/slerp merges exactly 2 models/);
    expect(() => validateMergeConfig({ method: 'model_stock', baseModel: 'a', models: [{ model: 'b' }] })).toThrow(/model_stock needs a base plus at least 2/);
    expect(() => validateMergeConfig({ method: 'linear', baseModel: 'z', models: two })).toThrow(/base_model 'z' is not among the models/);
    expect(() => validateMergeConfig({ method: 'linear', models: [...two, two[0]] })).toThrow(/'a' is listed twice/);
    expect(() => validateMergeConfig({ method: 'linear', models: two, tokenizerSource: 'union' })).toThrow(/union/);
    expect(() => validateMergeConfig({ method: 'linear', models: two, parameters: { weight: [] } })).toThrow(/parameters\.weight: an empty list/);
    expect(() => validateMergeConfig({ method: 'linear', models: two, parameters: { weight: [{ filter: 1, value: 2 }] as never } })).toThrow(/filter: not a string/);
    expect(validateMergeConfig({ method: 'linear', models: two, parameters: { density: 0.5 } }).warnings[0]).toMatch(/density is not a parameter of linear/);
  });

  it('refuses parameter values of the wrong type or out of mergekit’s range, naming the model, the parameter and the value', () => {
    const ties = (parameters: Record<string, unknown>, global: Record<string, unknown> = {}) =>
      validateMergeConfig({ method: 'ties', baseModel: 'base', models: [{ model: 'a', parameters: { weight: 1, ...parameters } as never }, { model: 'b', parameters: { weight: 1 } }], parameters: global as never });
    expect(() => ties({ density: 5 })).toThrow("merge config: model 'a': density = 5 is out of range; density must be in [0, 1]");
    expect(() => ties({ density: -0.1 })).toThrow(/model 'a': density = -0.1 is out of range/);
    expect(() => ties({ density: [0.2, 0.5, 1.5] })).toThrow(/model 'a': density = 1.5 is out of range/);
    expect(() => ties({ density: [{ filter: 'mlp', value: 2 }, { value: 0.5 }] })).toThrow(/model 'a': density = 2 is out of range/);
    expect(() => ties({ weight: 'heavy' })).toThrow(/model 'a': weight = "heavy" is not a number/);
    expect(() => ties({}, { normalize: 'yes' })).toThrow(/parameters: normalize = "yes" is not true or false/);
    expect(() => ties({}, { lambda: 'x' })).toThrow(/lambda = "x" is not a number/);
    expect(() => ties({}, { rescale: 'maybe' })).toThrow(/rescale = "maybe"/);
    const slerp = (t: unknown) => validateMergeConfig({ method: 'slerp', baseModel: 'a', models: [{ model: 'b' }], parameters: { t } as never });
    expect(() => slerp([0, 'nope', 1])).toThrow(/parameters\.t\[1\]: "nope" is not a number/);
    expect(() => slerp(1.2)).toThrow(/t = 1.2 is out of range; t must be in \[0, 1\]/);
    expect(() => ties({ gamma: 2 })).toThrow(/gamma = 2 is out of range/);
    // In range: accepted, including gradients and filters.
    expect(() => ties({ density: [0, 0.5, 1] }, { normalize: true, lambda: 1.5 })).not.toThrow();
    expect(() => slerp([0, 0.5, 1])).not.toThrow();
  });

  it('DARE keys depend on seed, model position and tensor name, not on where models are stored', () => {
    expect(dareKey(1, 0, 'w')).toBe(dareKey(1, 0, 'w'));
    const keys = new Set([dareKey(1, 0, 'w'), dareKey(2, 0, 'w'), dareKey(1, 1, 'w'), dareKey(1, 0, 'v')]);
    expect(keys.size).toBe(4);
    const cfg = (refs: string[]): MergeConfig => ({ method: 'dare_ties', baseModel: refs[0], models: refs.slice(1).map((model) => ({ model, parameters: { weight: 1, density: 0.5 } })), seed: 3 });
    expect(planTensor(cfg(['/x/base', '/x/a', '/x/b']), 'model.norm.weight', 2).dareKeys).toEqual(planTensor(cfg(['base-id', 'a-id', 'b-id']), 'model.norm.weight', 2).dareKeys);
  });

  it('parameterSchedule gives a value per layer for plots', () => {
    const config: MergeConfig = { method: 'slerp', baseModel: 'a', models: [{ model: 'a' }, { model: 'b' }], parameters: { t: [{ filter: 'mlp', value: [1, 0] }, { value: [0, 0.5, 1] }] } };
    expect(parameterSchedule(config, 't', 3).map((p) => p.value)).toEqual([0, 0.5, 1]);
    expect(parameterSchedule(config, 't', 3, { tensorSuffix: 'mlp.up_proj.weight' }).map((p) => p.value)).toEqual([1, 0.5, 0]);
  });
});

const TIES_YML = `models:
  - model: psmathur/orca_mini_v3_13b
    parameters:
      density: [1, 0.7, 0.1] # density gradient
      weight: 1.0
  - model: garage-bAInd/Platypus2-13B
    parameters:
      density: 0.5
      weight: [0, 0.3, 0.7, 1] # weight gradient
  - model: WizardLM/WizardMath-13B-V1.0
    parameters:
      density: 0.33
      weight:
        - filter: mlp
          value: 0.5
        - value: 0
merge_method: ties
base_model: TheBloke/Llama-2-13B-fp16
parameters:
  normalize: true
  int8_mask: true
dtype: float16
`;

const GRADIENT_SLERP_YML = `slices:
  - sources:
      - model: psmathur/orca_mini_v3_13b
        layer_range: [0, 40]
      - model: garage-bAInd/Platypus2-13B
        layer_range: [0, 40]
merge_method: slerp
base_model: psmathur/orca_mini_v3_13b
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5 # fallback for rest of tensors
dtype: float16
`;

describe('mergekit YAML', () => {
  it("imports mergekit's ties example as written", () => {
    const { config, warnings } = parseMergekitYaml(TIES_YML, 'ties.yml');
    expect(warnings).toEqual([]);
    expect(config.method).toBe('ties');
    expect(config.baseModel).toBe('TheBloke/Llama-2-13B-fp16');
    expect(config.models.map((m) => m.model)).toEqual(['psmathur/orca_mini_v3_13b', 'garage-bAInd/Platypus2-13B', 'WizardLM/WizardMath-13B-V1.0']);
    expect(config.models[0].parameters).toEqual({ density: [1, 0.7, 0.1], weight: 1 });
    expect(config.parameters).toEqual({ normalize: true, int8_mask: true });
    expect(config.dtype).toBe('float16');
    const r = planTensor(config, 'model.layers.20.mlp.up_proj.weight', 41); // t = 0.5
    expect(r.densities).toEqual([0.7, 0.5, 0.33]);
    expect(r.weights).toEqual([1, 0.5, 0.5]);
  });

  it("imports the one-slice form (mergekit's gradient-slerp example) and exports it back as slices", () => {
    const { config } = parseMergekitYaml(GRADIENT_SLERP_YML, 'gradient-slerp.yml');
    expect(config.method).toBe('slerp');
    expect(config.layerRange).toEqual([0, 40]);
    expect(config.models.map((m) => m.model)).toEqual(['psmathur/orca_mini_v3_13b', 'garage-bAInd/Platypus2-13B']);
    expect(planTensor(config, 'model.layers.0.mlp.gate_proj.weight', 40).t).toBe(1);
    const again = parseMergekitYaml(toMergekitYaml(config)).config;
    expect(again).toEqual({ ...config, dtype: 'float16' });
    expect(YAML.parse(toMergekitYaml(config)).slices[0].sources[1]).toEqual({ model: 'garage-bAInd/Platypus2-13B', layer_range: [0, 40] });
  });

  it('round-trips configs, including the playground extensions, through a comment mergekit ignores', () => {
    const configs: MergeConfig[] = [
      parseMergekitYaml(TIES_YML).config,
      { method: 'linear', models: [{ model: '/m/a', parameters: { weight: 0.3 } }, { model: '/m/b', parameters: { weight: 0.7 } }], parameters: { normalize: false } },
      { method: 'dare_ties', baseModel: 'base', models: [{ model: 'x', parameters: { weight: 1, density: [0.2, 1e-8] } }], parameters: { rescale: 'inverse_density', lambda: 1.5 }, seed: 42 },
      { method: 'model_stock', baseModel: 'b', models: [{ model: 'x' }, { model: 'y' }], parameters: { filter_wise: true }, tokenizerSource: 'x' },
      { method: 'breadcrumbs', baseModel: 'b', models: [{ model: 'x', parameters: { weight: 1, density: 0.9, gamma: 0.05 } }] },
    ];
    for (const config of configs) {
      const text = toMergekitYaml(config);
      const back = parseMergekitYaml(text).config;
      expect(back).toEqual({ dtype: 'float32', ...config, baseModel: config.baseModel ?? null });
    }
  });

  it("exports mergekit's layout: number lists in flow style, PyYAML-safe floats, extensions only in a comment", () => {
    const text = toMergekitYaml({ method: 'dare_ties', baseModel: 'base', models: [{ model: 'x', parameters: { weight: 1, density: [0.2, 1e-8] } }], parameters: { rescale: 'inverse_density' }, seed: 7 });
    expect(text.split('\n')[0]).toBe('# aya-playground: {"seed":7,"rescale":"inverse_density"}');
    expect(text).toContain('density: [ 0.2, 1.0e-08 ]');
    const body = YAML.parse(text);
    expect(body).toEqual({ merge_method: 'dare_ties', base_model: 'base', models: [{ model: 'x', parameters: { weight: 1, density: [0.2, 1e-8] } }], parameters: { rescale: true }, dtype: 'float32' });
    expect(toMergekitYaml({ method: 'linear', models: [{ model: 'id-1', parameters: { weight: 1 } }] }, { rename: (r) => `/models/${r}` })).toContain('model: /models/id-1');
  });

  it('rejects what it cannot run with a message naming the file and the problem', () => {
    expect(() => parseMergekitYaml('merge_method: [ties', 'a.yml')).toThrow(/a\.yml: invalid YAML/);
    expect(() => parseMergekitYaml('merge_method: nuslerp\nmodels: [{model: a}]', 'b.yml')).toThrow(/b\.yml: merge_method 'nuslerp' is not supported/);
    expect(() => parseMergekitYaml('models: [{model: a}]', 'c.yml')).toThrow(/merge_method is missing/);
    expect(() => parseMergekitYaml(`merge_method: linear\nslices:\n  - sources: [{model: a, layer_range: [0, 2]}]\n  - sources: [{model: a, layer_range: [2, 4]}]\n`, 'd.yml')).toThrow(/slices with 2 entries are not supported/);
    expect(() => parseMergekitYaml(`merge_method: linear\nslices:\n  - sources: [{model: a, layer_range: [0, 2]}, {model: b, layer_range: [0, 4]}]\n`, 'e.yml')).toThrow(/layer_range \[0,4\] differs/);
    expect(() => parseMergekitYaml('merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\n---\nmerge_method: linear\n', 'f.yml')).toThrow(/2 YAML documents/);
    expect(() => parseMergekitYaml('merge_method: linear\nmodels: [{model: a}]\nfrobnicate: 1\n', 'g.yml')).toThrow(/g\.yml: unknown key 'frobnicate'/);
    expect(() => parseMergekitYaml('merge_method: ties\nmodels: [{model: a, parameters: {weight: 1}}]\n', 'h.yml')).toThrow(/h\.yml: ties needs a base_model/);
    expect(() => parseMergekitYaml('merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\ntokenizer_source: union\n', 'i.yml')).toThrow(/i\.yml: tokenizer_source 'union' is not supported/);
  });
});
