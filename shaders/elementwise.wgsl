// Elementwise ops over flat arrays of n elements: add, mul, swiglu (silu(a) * b), scale (a * s);
// the decoder's fused forms: add3 ((a + b) + c, both residuals at once) and swiglu_halves (gate and
// up side by side in one [rows, 2·width] matmul output). Same arithmetic as the unfused ops.

struct EwParams {
  n: u32,
  scalar: f32,
  width: u32,     // swiglu_halves: the MLP's intermediate size
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: EwParams;

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  out[i] = a[i] + b[i];
}

@compute @workgroup_size(256)
fn mul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  out[i] = a[i] * b[i];
}

@compute @workgroup_size(256)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let g = a[i];
  out[i] = g / (1.0 + exp(-g)) * b[i];
}

@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  out[i] = a[i] * p.scalar;
}

// ---- backward and in-place helpers ---------------------------------------------------------------
// swiglu_backward: a = gate, b = up, c = dout → out = dgate, out2 = dup, with s = σ(gate):
//   dup = dout · gate · s,   dgate = dout · up · s · (1 + gate · (1 − s)).
// add_inplace: out += a.  scale_inplace: out *= scalar.

@group(0) @binding(4) var<storage, read_write> out2: array<f32>;
@group(0) @binding(5) var<storage, read> c: array<f32>;

@compute @workgroup_size(256)
fn swiglu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let g = a[i];
  let dy = c[i];
  let s = 1.0 / (1.0 + exp(-g));
  out[i] = dy * b[i] * s * (1.0 + g * (1.0 - s));
  out2[i] = dy * g * s;
}

@compute @workgroup_size(256)
fn add_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  out[i] = out[i] + a[i];
}

@compute @workgroup_size(256)
fn scale_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  out[i] = out[i] * p.scalar;
}

// ---- fused forward forms --------------------------------------------------------------------------

@compute @workgroup_size(256)
fn add3(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let ab = a[i] + b[i];
  out[i] = ab + c[i];
}

// a = [rows, 2·width]: gate in the first width columns of a row, up in the next; out [rows, width].
@compute @workgroup_size(256)
fn swiglu_halves(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let row = i / p.width;
  let j = i % p.width;
  let g = a[row * 2u * p.width + j];
  out[i] = g / (1.0 + exp(-g)) * a[row * 2u * p.width + p.width + j];
}
