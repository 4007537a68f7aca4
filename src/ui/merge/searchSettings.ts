// The weight search's form (kept in localStorage) and the request it makes from it and the merge
// form: the merge above with its per-model weights searched.
import { FAMILIES, LANGUAGE_CODES, LANGUAGES } from '../../data/languages.ts';
import { METHOD_INFO, type MergeConfig } from '../../merge/config.ts';
import { loadPref, savePref } from '../common/localPref.ts';
import { contributingIds, type MergeSettings, usesBase } from './settings.ts';
import { gridPoints, type MergeSearchRequest, type SearchStrategy, simplexPointCount } from './searchTypes.ts';

export interface SearchSettings {
  strategy: SearchStrategy;
  /** The values each weight takes on the grid (DESIGN §10: 0, .3, .5, .7, 1). */
  gridText: string;
  resolution: number;
  budget: number;
  /** Two objectives (two language groups) and a Pareto front, or one. */
  two: boolean;
  groupA: string[];
  groupB: string[];
  nameA: string;
  nameB: string;
  seed: number;
}

const KEY = 'aya.merge.search';
const family = (id: string) => FAMILIES.find((f) => f.id === id)!;

export function defaultSearchSettings(): SearchSettings {
  return {
    strategy: 'grid',
    gridText: '0, 0.3, 0.5, 0.7, 1',
    resolution: 4,
    budget: 12,
    two: false,
    groupA: [...family('romance').languages],
    groupB: [...family('slavic').languages],
    nameA: '',
    nameB: '',
    seed: 1,
  };
}

export function loadSearchSettings(): SearchSettings {
  const d = defaultSearchSettings();
  const s = loadPref<Partial<SearchSettings>>(KEY, {});
  const int = (v: unknown, dflt: number) => (typeof v === 'number' && Number.isInteger(v) ? v : dflt);
  const langs = (v: unknown, dflt: string[]) => (Array.isArray(v) ? LANGUAGE_CODES.filter((c) => v.includes(c)) : dflt);
  return {
    strategy: s.strategy === 'simplex' || s.strategy === 'cmaes' ? s.strategy : 'grid',
    gridText: typeof s.gridText === 'string' ? s.gridText : d.gridText,
    resolution: int(s.resolution, d.resolution),
    budget: int(s.budget, d.budget),
    two: s.two === true,
    groupA: langs(s.groupA, d.groupA),
    groupB: langs(s.groupB, d.groupB),
    nameA: typeof s.nameA === 'string' ? s.nameA : d.nameA,
    nameB: typeof s.nameB === 'string' ? s.nameB : d.nameB,
    seed: int(s.seed, d.seed),
  };
}

export function saveSearchSettings(s: SearchSettings): string | null {
  return savePref(KEY, s);
}

/** A group's name when none was typed: its family's, its languages' (up to three), or a count. */
export function autoName(langs: string[]): string {
  const same = (a: readonly string[]) => a.length === langs.length && a.every((l) => langs.includes(l));
  const fam = FAMILIES.find((f) => same(f.languages) || same(f.trainLanguages));
  if (fam) return fam.name;
  if (langs.length === LANGUAGE_CODES.length) return 'all 23';
  if (langs.length <= 3) return langs.map((c) => LANGUAGES.find((l) => l.code === c)?.name ?? c).join(' + ');
  return `${langs.length} languages`;
}

export function parseGrid(text: string): number[] {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (!parts.length) throw new Error('Grid values: give some, e.g. 0, 0.3, 0.5, 0.7, 1');
  const vals = parts.map((p) => Number(p));
  const bad = parts.find((p, i) => !Number.isFinite(vals[i]));
  if (bad !== undefined) throw new Error(`Grid values: “${bad}” is not a number`);
  return vals;
}

/** Merges the search will run for `n` models, or null when the setting is wrong. */
export function plannedPoints(ss: SearchSettings, n: number): number | null {
  if (ss.strategy === 'grid') {
    try {
      return gridPoints(n, parseGrid(ss.gridText)).length;
    } catch {
      return null;
    }
  }
  if (ss.strategy === 'simplex') return Number.isInteger(ss.resolution) && ss.resolution >= 1 ? simplexPointCount(n, ss.resolution) : null;
  return Number.isInteger(ss.budget) && ss.budget >= 1 ? ss.budget : null;
}

/** The request, or a sentence saying why there is none. */
export function buildSearchRequest(s: MergeSettings, config: MergeConfig | null, ss: SearchSettings, strategy: SearchStrategy = ss.strategy): MergeSearchRequest | string {
  const info = METHOD_INFO[s.method];
  if (!info.perModel.some((p) => p.name === 'weight')) return `${info.label} has no per-model weight to search: choose linear, task arithmetic, TIES, DARE or breadcrumbs above.`;
  if (!config) return 'Fix the merge form above first: the search merges with its method and parameters.';
  const modelIds = contributingIds(s);
  if (modelIds.length < 2) return `Choose at least two models${usesBase(s.method) ? ' besides the base' : ''} to weigh against each other.`;
  const objectives = ss.two
    ? [
        { name: ss.nameA.trim() || autoName(ss.groupA), languages: [...ss.groupA] },
        { name: ss.nameB.trim() || autoName(ss.groupB), languages: [...ss.groupB] },
      ]
    : [{ name: ss.nameA.trim() || autoName(ss.groupA), languages: [...ss.groupA] }];
  if (objectives.length === 2 && objectives[0].name === objectives[1].name) return 'Give the two groups different names.';
  if (objectives.some((o) => !o.languages.length)) return ss.two ? 'Give each language group at least one language.' : 'Choose at least one language to score on.';
  const languages = LANGUAGE_CODES.filter((c) => objectives.some((o) => o.languages.includes(c)));
  // Global parameters as in the merge; per-model ones other than the weight go along when every model has the same value.
  const parameters: Record<string, unknown> = { ...(config.parameters ?? {}) };
  for (const p of info.perModel) {
    if (p.name === 'weight') continue;
    const vals = config.models.filter((m) => modelIds.includes(m.model)).map((m) => JSON.stringify(m.parameters?.[p.name]));
    if (vals.length && vals.every((v) => v === vals[0]) && vals[0] !== undefined) parameters[p.name] = JSON.parse(vals[0]);
  }
  const req: MergeSearchRequest = { modelIds, method: s.method, parameters, strategy, objectives, languages, seed: ss.seed };
  if (usesBase(s.method) && s.baseId) req.baseId = s.baseId;
  if (strategy === 'grid') {
    try {
      req.grid = parseGrid(ss.gridText);
    } catch (e) {
      return (e as Error).message;
    }
  }
  if (strategy === 'simplex') {
    if (!(Number.isInteger(ss.resolution) && ss.resolution >= 1 && ss.resolution <= 20)) return 'Resolution: a whole number from 1 to 20.';
    req.resolution = ss.resolution;
  }
  if (strategy === 'cmaes') {
    if (!(Number.isInteger(ss.budget) && ss.budget >= 2)) return 'Budget: a whole number ≥ 2 (merges to evaluate).';
    req.budget = ss.budget;
  }
  return req;
}
