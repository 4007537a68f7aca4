// Diagnostics of issue 7's merge experiment (scripts/merge-experiment.sh): how far each expert moved
// from the shared base (‖τ_i‖ / ‖θ_base‖), how aligned the task vectors are (pairwise cosine, and
// with the union model's), and the cosine between whole weight vectors — experts fine-tuned from one
// base vs the zoo teachers trained from different random inits. Norm weights are left out (they
// start at 1 and would dominate nothing but the cosines of unrelated models).
//
//   npx tsx scripts/merge-experiment-stats.ts > docs/results/merge-experiment/task-vectors.json
import { readModelDir } from '../src/model/folder.node.ts';
import { readModelFolder } from '../src/model/folder.ts';
const EXP = process.env.EXP ?? 'scratch/merge-exp';
const fams = ['romance', 'germanic-hellenic', 'slavic', 'mideast-southasia', 'east-asia'];
const load = async (p: string) => readModelFolder(await readModelDir(p)).weights;
const flat = (w: Map<string, { data: Float32Array | ArrayLike<number> }>) => {
  const names = [...w.keys()].filter((n) => !n.endsWith('norm.weight')).sort();
  const parts = names.map((n) => Float64Array.from(w.get(n)!.data as ArrayLike<number>));
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0; for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const dot = (a: Float64Array, b: Float64Array) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
const cos = (a: Float64Array, b: Float64Array) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
const sub = (a: Float64Array, b: Float64Array) => a.map((x, i) => x - b[i]);
const base = flat(await load('public/models/base-student'));
const experts = await Promise.all(fams.map(async (f) => flat(await load(`${EXP}/expert-${f}`))));
const union = flat(await load(`${EXP}/union`));
const zoo = await Promise.all(fams.map(async (f) => flat(await load(`public/models/teacher-${f}`))));
const taus = experts.map((e) => sub(e, base));
const tu = sub(union, base);
const nb = Math.sqrt(dot(base, base));
const out: Record<string, unknown> = {};
out.relTaskVectorNorm = Object.fromEntries(fams.map((f, i) => [f, Math.sqrt(dot(taus[i], taus[i])) / nb]));
out.relUnionTaskVectorNorm = Math.sqrt(dot(tu, tu)) / nb;
const pair = (xs: Float64Array[]) => { const c: number[] = []; for (let i = 0; i < xs.length; i++) for (let j = i + 1; j < xs.length; j++) c.push(cos(xs[i], xs[j])); return { min: Math.min(...c), mean: c.reduce((a, b) => a + b, 0) / c.length, max: Math.max(...c) }; };
out.taskVectorCosine = pair(taus);
out.taskVectorCosineWithUnion = Object.fromEntries(fams.map((f, i) => [f, cos(taus[i], tu)]));
out.expertWeightCosine = pair(experts);
out.zooTeacherWeightCosine = pair(zoo);
const mean = taus[0].map((_, k) => taus.reduce((a, t) => a + t[k], 0) / taus.length);
out.averagedTaskVectorRelNorm = Math.sqrt(dot(mean, mean)) / nb;
console.log(JSON.stringify(out, null, 2));
