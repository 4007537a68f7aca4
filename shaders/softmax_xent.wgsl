// Cross-entropy forward: loss[n] = logsumexp(logits[n, :]) − logits[n, target[n]].
// One workgroup per row; a target outside the vocabulary gives NaN.

struct XentParams {
  rows: u32,
  vocab: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<uniform> p: XentParams;

const WG: u32 = 64u;
var<workgroup> red: array<f32, 64>;

fn reduce(lid: u32, v: f32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), is_max);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = flat_wg(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.vocab;
  var m = NEG_INF;
  for (var i = lid; i < p.vocab; i += WG) { m = max(m, logits[base + i]); }
  let row_max = reduce(lid, m, true);
  var s = 0.0;
  for (var i = lid; i < p.vocab; i += WG) { s += exp(logits[base + i] - row_max); }
  let total = reduce(lid, s, false);
  if (lid == 0u) {
    let target_id = targets[row];
    if (target_id >= p.vocab) {
      loss[row] = bitcast<f32>(0x7fc00000u | (target_id & 0u)); // NaN, built at run time
    } else {
      loss[row] = log(total) + row_max - logits[base + target_id];
    }
  }
}

// ---- masked (weighted) cross-entropy and its backward ---------------------------------------------
// masked:          loss[n] = weight[n] · (logsumexp(logits[n]) − logits[n, target[n]])
// masked_backward: dlogits[n, i] = (softmax(logits[n])_i − [i = target[n]]) · weight[n] · dloss
// A row whose weight is 0 or whose target is outside the vocabulary (padding) gives exactly 0.

struct XentMaskedParams {
  rows: u32,
  vocab: u32,
  dloss: f32,
}

@group(0) @binding(4) var<storage, read> weights: array<f32>;
@group(0) @binding(5) var<uniform> pm: XentMaskedParams;
@group(0) @binding(6) var<storage, read_write> dlogits: array<f32>;

@compute @workgroup_size(64)
fn masked(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let row = flat_wg(wid, nwg);
  if (row >= pm.rows) { return; }
  let base = row * pm.vocab;
  let target_id = targets[row];
  let w = weights[row];
  // Uniform per workgroup, so the early return keeps the barriers below uniform.
  if (w == 0.0 || target_id >= pm.vocab) {
    if (lid == 0u) { loss[row] = 0.0; }
    return;
  }
  var m = NEG_INF;
  for (var i = lid; i < pm.vocab; i += WG) { m = max(m, logits[base + i]); }
  let row_max = reduce(lid, m, true);
  var s = 0.0;
  for (var i = lid; i < pm.vocab; i += WG) { s += exp(logits[base + i] - row_max); }
  let total = reduce(lid, s, false);
  if (lid == 0u) { loss[row] = w * (log(total) + row_max - logits[base + target_id]); }
}

@compute @workgroup_size(64)
fn masked_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let row = flat_wg(wid, nwg);
  if (row >= pm.rows) { return; }
  let base = row * pm.vocab;
  let target_id = targets[row];
  let g = weights[row] * pm.dloss;
  if (g == 0.0 || target_id >= pm.vocab) {
    for (var i = lid; i < pm.vocab; i += WG) { dlogits[base + i] = 0.0; }
    return;
  }
  var m = NEG_INF;
  for (var i = lid; i < pm.vocab; i += WG) { m = max(m, logits[base + i]); }
  let row_max = reduce(lid, m, true);
  var s = 0.0;
  for (var i = lid; i < pm.vocab; i += WG) { s += exp(logits[base + i] - row_max); }
  let inv = 1.0 / reduce(lid, s, false);
  for (var i = lid; i < pm.vocab; i += WG) {
    let onehot = select(0.0, 1.0, i == target_id);
    dlogits[base + i] = (exp(logits[base + i] - row_max) * inv - onehot) * g;
  }
}
