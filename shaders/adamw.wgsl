// AdamW with decoupled weight decay, in place on param, m and v (one invocation per element):
//   g  = grad · gscale · gscale_buf[0]          (the clipping factor: a number, a [1] tensor, or both)
//   m  = β1·m + (1 − β1)·g
//   v  = β2·v + (1 − β2)·g²
//   param −= lr · ((m / bc1) / (sqrt(v / bc2) + eps) + wd · param)
// bc1 = 1 − β1^t and bc2 = 1 − β2^t are computed on the host in float64.

struct AdamwParams {
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  wd: f32,
  bc1: f32,
  bc2: f32,
  gscale: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m1: array<f32>;
@group(0) @binding(3) var<storage, read_write> m2: array<f32>;
@group(0) @binding(4) var<storage, read> gscale_buf: array<f32>;
@group(0) @binding(5) var<uniform> p: AdamwParams;

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let g = grad[i] * p.gscale * gscale_buf[0];
  let m = p.beta1 * m1[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * m2[i] + (1.0 - p.beta2) * g * g;
  m1[i] = m;
  m2[i] = v;
  let w = param[i];
  param[i] = w - p.lr * ((m / p.bc1) / (sqrt(v / p.bc2) + p.eps) + p.wd * w);
}
