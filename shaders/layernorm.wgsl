// Cohere LayerNorm: y = (x − mean) / sqrt(var + eps) · w, weight only, no bias. One workgroup per row.

struct LnParams {
  rows: u32,
  dim: u32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: LnParams;

const WG: u32 = 64u;
var<workgroup> red: array<f32, 64>;

fn reduce_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = flat_wg(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var s = 0.0;
  for (var i = lid; i < p.dim; i += WG) { s += x[base + i]; }
  let mean = reduce_sum(lid, s) / f32(p.dim);
  var v = 0.0;
  for (var i = lid; i < p.dim; i += WG) {
    let d = x[base + i] - mean;
    v += d * d;
  }
  let inv = 1.0 / sqrt(reduce_sum(lid, v) / f32(p.dim) + p.eps);
  for (var i = lid; i < p.dim; i += WG) {
    out[base + i] = (x[base + i] - mean) * inv * w[i];
  }
}
