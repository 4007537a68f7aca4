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

// (mean, 1/sqrt(var + eps)) of the row starting at `base`; centred two-pass variance.
fn row_stats(lid: u32, base: u32) -> vec2<f32> {
  var s = 0.0;
  for (var i = lid; i < p.dim; i += WG) { s += x[base + i]; }
  let mean = reduce_sum(lid, s) / f32(p.dim);
  var v = 0.0;
  for (var i = lid; i < p.dim; i += WG) {
    let d = x[base + i] - mean;
    v += d * d;
  }
  return vec2<f32>(mean, 1.0 / sqrt(reduce_sum(lid, v) / f32(p.dim) + p.eps));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = flat_wg(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  let st = row_stats(lid, base);
  let mean = st.x;
  let inv = st.y;
  for (var i = lid; i < p.dim; i += WG) {
    out[base + i] = (x[base + i] - mean) * inv * w[i];
  }
}

// ---- add3_main: both residual adds, then the next LayerNorm ----------------------------------------
// x_next = (x + res_a) + res_b is written out and normalised in the same pass (each invocation
// re-reads only the elements it wrote). Same sums in the same order as add3 then main: same bits.

@group(0) @binding(6) var<storage, read> res_a: array<f32>;
@group(0) @binding(7) var<storage, read> res_b: array<f32>;
@group(0) @binding(8) var<storage, read_write> x_next: array<f32>;

@compute @workgroup_size(64)
fn add3_main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let row = flat_wg(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var s = 0.0;
  for (var i = lid; i < p.dim; i += WG) {
    let ab = x[base + i] + res_a[base + i];
    let v = ab + res_b[base + i];
    x_next[base + i] = v;
    s += v;
  }
  let mean = reduce_sum(lid, s) / f32(p.dim);
  var v2 = 0.0;
  for (var i = lid; i < p.dim; i += WG) {
    let d = x_next[base + i] - mean;
    v2 += d * d;
  }
  let inv = 1.0 / sqrt(reduce_sum(lid, v2) / f32(p.dim) + p.eps);
  for (var i = lid; i < p.dim; i += WG) {
    out[base + i] = (x_next[base + i] - mean) * inv * w[i];
  }
}

// ---- backward --------------------------------------------------------------------------------------
// With x̂ = (x − mean)·rstd and y = x̂ ⊙ w, for each row:
//   dx = rstd · (dy⊙w − mean(dy⊙w) − x̂ · mean(dy⊙w⊙x̂)),   dw = Σ_rows dy ⊙ x̂.
// backward_dx (one workgroup per row; out = dx) also stores each row's (mean, rstd) in `stats`;
// backward_dw (one invocation per column; out = dw) reads them, so it runs after backward_dx.

@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>; // [rows, 2]: mean, rstd

@compute @workgroup_size(64)
fn backward_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let row = flat_wg(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  let st = row_stats(lid, base);
  let mean = st.x;
  let rstd = st.y;
  var sg = 0.0;
  var sgx = 0.0;
  for (var i = lid; i < p.dim; i += WG) {
    let g = dy[base + i] * w[i];
    sg += g;
    sgx += g * (x[base + i] - mean) * rstd;
  }
  let mg = reduce_sum(lid, sg) / f32(p.dim);
  let mgx = reduce_sum(lid, sgx) / f32(p.dim);
  for (var i = lid; i < p.dim; i += WG) {
    let xh = (x[base + i] - mean) * rstd;
    out[base + i] = rstd * (dy[base + i] * w[i] - mg - xh * mgx);
  }
  if (lid == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
}

@compute @workgroup_size(64)
fn backward_dw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.dim) { return; }
  var s = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let o = r * p.dim + i;
    s += dy[o] * (x[o] - stats[2u * r]) * stats[2u * r + 1u];
  }
  out[i] = s;
}
