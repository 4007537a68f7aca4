// Model merging, per tensor (src/merge/gpu.ts dispatches; src/merge/methods.ts is the reference).
// `inputs` stacks the K copies of one tensor, n elements each: for task-vector methods, SLERP and
// Model Stock the base is row 0 and model m is row m + 1; for linear, model m is row m.
// What runs where: masks, rescale factors, sign election, divisors and combinations run here; the
// top-k / outlier thresholds of TIES and breadcrumbs are found on the host (it holds the tensor
// anyway, having streamed it from disk) and arrive as (|τ|, index) keys in `params`; SLERP's and
// Model Stock's coefficients are computed on the host from the reductions gram_* produce here.

struct ModelParam {
  weight: f32,
  density: f32,   // DARE keep probability
  lo_val: f32,    // magnitude band: keep i when (lo_val, lo_idx) <= (|tau_i|, i) <= (hi_val, hi_idx)
  lo_idx: u32,
  hi_val: f32,
  hi_idx: u32,
  key: u32,       // DARE stream key (dareKey in src/merge/config.ts)
  mode: u32,      // 0 keep all, 1 magnitude band, 2 Bernoulli, 3 drop all
  scale: f32,     // rescale factor decided on the host (1 or 1/density)
  l1: u32,        // 1: rescale to match the L1 norm (mergekit's rule), computed by rescale_factors
  pad0: u32,
  pad1: u32,
}

struct MergeUniforms {
  n: u32,         // elements per tensor
  models: u32,    // contributing models (GTA, linear, Model Stock) or vectors (gram)
  chunks: u32,    // reduction chunks per segment
  seg_len: u32,   // gram / Model Stock segment (row) length
  flags: u32,     // bit 0 sign consensus, bit 1 normalize, bit 2 gram over task vectors (row k+1 − row 0)
  divisor: f32,   // linear and consensus-free GTA divisor
  lambda: f32,
  a: f32,         // axpby coefficients (SLERP's s0, s1)
  b: f32,
  segs: u32,
  pairs: u32,
  pad0: u32,
}

@group(0) @binding(0) var<storage, read> inputs: array<f32>;
@group(0) @binding(1) var<storage, read> params: array<ModelParam>;
@group(0) @binding(2) var<storage, read_write> deltas: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> scales: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<uniform> u: MergeUniforms;
@group(0) @binding(7) var<storage, read> ratios: array<f32>;

const WG: u32 = 256u;
var<workgroup> red_a: array<f32, 256>;
var<workgroup> red_b: array<f32, 256>;

// Element i's uniform draw from a DARE stream; the same numbers as dareUniform in methods.ts.
fn dare_uniform(key: u32, i: u32) -> f32 {
  return f32(pcg_hash(key + pcg_hash(i)) >> 8u) / 16777216.0;
}

fn kept(p: ModelParam, tau: f32, i: u32) -> bool {
  switch p.mode {
    case 0u: { return true; }
    case 1u: {
      let a = abs(tau);
      let above = a > p.lo_val || (a == p.lo_val && i >= p.lo_idx);
      let below = a < p.hi_val || (a == p.hi_val && i <= p.hi_idx);
      return above && below;
    }
    case 2u: { return dare_uniform(p.key, i) < p.density; }
    default: { return false; }
  }
}

// deltas[m, i] = τ_m[i] if kept, else 0 (sparsify without the rescale).
@compute @workgroup_size(256)
fn gta_sparsify(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat_id(gid, nwg, WG);
  if (k >= u.n * u.models) { return; }
  let m = k / u.n;
  let i = k - m * u.n;
  let tau = inputs[(m + 1u) * u.n + i] - inputs[i];
  deltas[k] = select(0.0, tau, kept(params[m], tau, i));
}

// partials[m, c] = (Σ|τ_m|, Σ|δ_m|) over chunk c: the L1 norms before and after masking.
@compute @workgroup_size(256)
fn l1_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = flat_wg(wid, nwg);
  let m = w / u.chunks;
  let c = w - m * u.chunks;
  let len = (u.n + u.chunks - 1u) / u.chunks;
  let start = c * len;
  let end = min(start + len, u.n);
  var before = 0.0;
  var after = 0.0;
  if (m < u.models) {
    for (var i = start + lid; i < end; i += WG) {
      before += abs(inputs[(m + 1u) * u.n + i] - inputs[i]);
      after += abs(deltas[m * u.n + i]);
    }
  }
  red_a[lid] = before;
  red_b[lid] = after;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red_a[lid] += red_a[lid + s];
      red_b[lid] += red_b[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u && m < u.models) {
    partials[(m * u.chunks + c) * 2u] = red_a[0];
    partials[(m * u.chunks + c) * 2u + 1u] = red_b[0];
  }
}

// scales[m]: mergekit's L1 matching ‖τ‖₁ / ‖δ‖₁ (1 when either is below 1e-7), or the host's factor.
@compute @workgroup_size(64)
fn rescale_factors(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = gid.x;
  if (m >= u.models) { return; }
  let p = params[m];
  if (p.l1 == 0u) {
    scales[m] = p.scale;
    return;
  }
  var before = 0.0;
  var after = 0.0;
  for (var c = 0u; c < u.chunks; c++) {
    before += partials[(m * u.chunks + c) * 2u];
    after += partials[(m * u.chunks + c) * 2u + 1u];
  }
  scales[m] = select(before / after, 1.0, before < 1e-7 || after < 1e-7);
}

// out = base + λ · (Σ agreeing w·δ) / divisor: GTATask.execute with or without sign consensus.
@compute @workgroup_size(256)
fn gta_combine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= u.n) { return; }
  var vote = 0.0;
  for (var m = 0u; m < u.models; m++) {
    vote += deltas[m * u.n + i] * scales[m] * params[m].weight;
  }
  var mixed = vote;
  var divisor = u.divisor;
  if ((u.flags & 1u) != 0u) {
    let majority = select(-1.0, 1.0, vote >= 0.0);
    mixed = 0.0;
    divisor = 0.0;
    for (var m = 0u; m < u.models; m++) {
      let wd = deltas[m * u.n + i] * scales[m] * params[m].weight;
      if (sign(wd) == majority) {
        mixed += wd;
        divisor += params[m].weight;
      }
    }
    if (divisor == 0.0) { divisor = 1.0; }
  }
  if ((u.flags & 2u) != 0u) { mixed = mixed / divisor; }
  out[i] = inputs[i] + mixed * u.lambda;
}

// out = Σ w_m θ_m / divisor.
@compute @workgroup_size(256)
fn linear_combine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= u.n) { return; }
  var s = 0.0;
  for (var m = 0u; m < u.models; m++) {
    s += params[m].weight * inputs[m * u.n + i];
  }
  out[i] = s / u.divisor;
}

fn gram_vector(k: u32, i: u32) -> f32 {
  if ((u.flags & 4u) != 0u) { return inputs[(k + 1u) * u.n + i] - inputs[i]; }
  return inputs[k * u.n + i];
}

// partials[s, c, p] = Σ x_a·x_b over chunk c of segment s, for every pair a ≤ b of the K vectors.
@compute @workgroup_size(256)
fn gram_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = flat_wg(wid, nwg);
  let s = w / u.chunks;
  let c = w - s * u.chunks;
  let len = (u.seg_len + u.chunks - 1u) / u.chunks;
  let seg_start = s * u.seg_len;
  let start = seg_start + min(c * len, u.seg_len);
  let end = seg_start + min((c + 1u) * len, u.seg_len);
  let valid = s < u.segs;
  var p = 0u;
  for (var a = 0u; a < u.models; a++) {
    for (var b = a; b < u.models; b++) {
      var acc = 0.0;
      if (valid) {
        for (var i = start + lid; i < end; i += WG) {
          acc += gram_vector(a, i) * gram_vector(b, i);
        }
      }
      red_a[lid] = acc;
      workgroupBarrier();
      for (var st = WG / 2u; st > 0u; st >>= 1u) {
        if (lid < st) { red_a[lid] += red_a[lid + st]; }
        workgroupBarrier();
      }
      if (lid == 0u && valid) { partials[(s * u.chunks + c) * u.pairs + p] = red_a[0]; }
      workgroupBarrier();
      p++;
    }
  }
}

// out[s, p] = Σ_c partials[s, c, p].
@compute @workgroup_size(256)
fn gram_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat_id(gid, nwg, WG);
  if (k >= u.segs * u.pairs) { return; }
  let s = k / u.pairs;
  let p = k - s * u.pairs;
  var acc = 0.0;
  for (var c = 0u; c < u.chunks; c++) {
    acc += partials[(s * u.chunks + c) * u.pairs + p];
  }
  out[k] = acc;
}

// out = a·row0 + b·row1 (SLERP and its lerp fallback with host coefficients).
@compute @workgroup_size(256)
fn axpby(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= u.n) { return; }
  out[i] = u.a * inputs[i] + u.b * inputs[u.n + i];
}

// out = t·mean(θ_m) + (1 − t)·θ_base, t per segment (Model Stock).
@compute @workgroup_size(256)
fn model_stock_combine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= u.n) { return; }
  var s = 0.0;
  for (var m = 0u; m < u.models; m++) {
    s += inputs[(m + 1u) * u.n + i];
  }
  let t = ratios[i / u.seg_len];
  out[i] = t * (s / f32(u.models)) + (1.0 - t) * inputs[i];
}

// out[i] = 1 where params[0]'s DARE stream keeps element i, else 0 (to show and test the masks).
@compute @workgroup_size(256)
fn bernoulli_mask(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= u.n) { return; }
  out[i] = select(0.0, 1.0, dare_uniform(params[0].key, i) < params[0].density);
}
