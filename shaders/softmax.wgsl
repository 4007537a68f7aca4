// Row softmax over the last axis: [rows, dim] → [rows, dim]. One workgroup per row.

struct SmParams {
  rows: u32,
  dim: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: SmParams;

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
  let base = row * p.dim;
  var m = NEG_INF;
  for (var i = lid; i < p.dim; i += WG) { m = max(m, x[base + i]); }
  let row_max = reduce(lid, m, true);
  var s = 0.0;
  for (var i = lid; i < p.dim; i += WG) { s += exp(x[base + i] - row_max); }
  let inv = 1.0 / reduce(lid, s, false);
  for (var i = lid; i < p.dim; i += WG) { out[base + i] = exp(x[base + i] - row_max) * inv; }
}
