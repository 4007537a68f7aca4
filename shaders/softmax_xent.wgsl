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
