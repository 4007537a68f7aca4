// The weight-search job as the Merge panel sees it: the engine's types (src/merge/search.ts) and the
// labels the panel shows.
export type { MergeSearchRequest, SearchProgress, SearchResult } from '../../engine/api.ts';
export type { SearchObjective, SearchPoint, SearchStrategy } from '../../merge/search.ts';
export { DEFAULT_GRID, gridPoints, simplexPointCount } from '../../merge/search.ts';
import type { SearchStrategy } from '../../merge/search.ts';

export const STRATEGY_LABELS: Record<SearchStrategy, string> = {
  grid: 'Grid',
  simplex: 'Simplex sweep',
  cmaes: 'CMA-ES',
};
