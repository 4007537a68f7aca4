// Reductions over the last axis: [rows, dim] → [rows]. One workgroup per row.

struct RedParams {
  rows: u32,
  dim: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: RedParams;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn sum_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = flat_wg(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var s = 0.0;
  for (var i = lid; i < p.dim; i += WG) { s += x[base + i]; }
  red[lid] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k >> 1u) {
    if (lid < k) { red[lid] = red[lid] + red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[row] = red[0]; }
}

@compute @workgroup_size(256)
fn max_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = flat_wg(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var m = NEG_INF;
  for (var i = lid; i < p.dim; i += WG) { m = max(m, x[base + i]); }
  red[lid] = m;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k >> 1u) {
    if (lid < k) { red[lid] = max(red[lid], red[lid + k]); }
    workgroupBarrier();
  }
  if (lid == 0u) { out[row] = red[0]; }
}

// ---- sum of squares (global gradient norm) and the clipping factor -----------------------------------
// sumsq_partial: workgroup g of `groups` strides over x[0..n) and writes Σ x² of its share to
// out[offset + g]; the partials of one or many tensors are then summed by sum_rows (one row).
// clip_factor: out[0] = min(1, max_norm / (sqrt(x[0]) + 1e-6)) from a sum of squares x[0].

struct SumsqParams {
  n: u32,
  offset: u32,
  groups: u32,
  max_norm: f32,
}

@group(0) @binding(3) var<uniform> ps: SumsqParams;

@compute @workgroup_size(256)
fn sumsq_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  var s = 0.0;
  for (var i = g * WG + lid; i < ps.n; i += ps.groups * WG) {
    let v = x[i];
    s += v * v;
  }
  red[lid] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k >> 1u) {
    if (lid < k) { red[lid] = red[lid] + red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[ps.offset + g] = red[0]; }
}

@compute @workgroup_size(1)
fn clip_factor() {
  out[0] = min(1.0, ps.max_norm / (sqrt(x[0]) + 1e-6));
}
