// Batched matmul, row-major f32. C[b] = A[b] · B[b] ("nn": B is [K, N]) or A[b] · B[b]ᵀ ("nt": B is
// [N, K], the layout of HF linear weights [out, in]). Batch index = workgroup_id.z; a batch stride
// of 0 broadcasts B (shared weights). Numbered variants are benchmarked side by side
// (src/ops/matmul.ts lists them; `npm run bench` times them); the default is chosen there.

struct MmParams {
  m: u32,
  n: u32,
  k: u32,
  a_batch: u32,   // element strides between batches
  b_batch: u32,
  c_batch: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: MmParams;

// ---- v1: one output per invocation (the plain reference kernel) ----------------------------------

@compute @workgroup_size(16, 16)
fn nn_v1(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = gid.y;
  let col = gid.x;
  if (row >= p.m || col >= p.n) { return; }
  let ao = wid.z * p.a_batch + row * p.k;
  let bo = wid.z * p.b_batch + col;
  var s = 0.0;
  for (var i = 0u; i < p.k; i++) { s += a[ao + i] * b[bo + i * p.n]; }
  c[wid.z * p.c_batch + row * p.n + col] = s;
}

@compute @workgroup_size(16, 16)
fn nt_v1(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = gid.y;
  let col = gid.x;
  if (row >= p.m || col >= p.n) { return; }
  let ao = wid.z * p.a_batch + row * p.k;
  let bo = wid.z * p.b_batch + col * p.k;
  var s = 0.0;
  for (var i = 0u; i < p.k; i++) { s += a[ao + i] * b[bo + i]; }
  c[wid.z * p.c_batch + row * p.n + col] = s;
}

// ---- v2: 4×4 register block per invocation, 8×8 invocations (32×32 outputs per workgroup) -------

@compute @workgroup_size(8, 8)
fn nn_v2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let r0 = gid.y * 4u;
  let c0 = gid.x * 4u;
  if (r0 >= p.m || c0 >= p.n) { return; }
  let ab = wid.z * p.a_batch;
  let bb = wid.z * p.b_batch;
  var acc: array<vec4<f32>, 4>;
  var ar: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) { ar[i] = ab + min(r0 + i, p.m - 1u) * p.k; }
  var bc: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) { bc[j] = bb + min(c0 + j, p.n - 1u); }
  for (var kk = 0u; kk < p.k; kk++) {
    let bo = kk * p.n;
    let bv = vec4<f32>(b[bc[0] + bo], b[bc[1] + bo], b[bc[2] + bo], b[bc[3] + bo]);
    for (var i = 0u; i < 4u; i++) { acc[i] += a[ar[i] + kk] * bv; }
  }
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + i;
    if (r >= p.m) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (c0 + j < p.n) { c[wid.z * p.c_batch + r * p.n + c0 + j] = acc[i][j]; }
    }
  }
}

@compute @workgroup_size(8, 8)
fn nt_v2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let r0 = gid.y * 4u;
  let c0 = gid.x * 4u;
  if (r0 >= p.m || c0 >= p.n) { return; }
  let ab = wid.z * p.a_batch;
  let bb = wid.z * p.b_batch;
  var acc: array<vec4<f32>, 4>;
  var ar: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) { ar[i] = ab + min(r0 + i, p.m - 1u) * p.k; }
  var br: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) { br[j] = bb + min(c0 + j, p.n - 1u) * p.k; }
  for (var kk = 0u; kk < p.k; kk++) {
    let bv = vec4<f32>(b[br[0] + kk], b[br[1] + kk], b[br[2] + kk], b[br[3] + kk]);
    for (var i = 0u; i < 4u; i++) { acc[i] += a[ar[i] + kk] * bv; }
  }
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + i;
    if (r >= p.m) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (c0 + j < p.n) { c[wid.z * p.c_batch + r * p.n + c0 + j] = acc[i][j]; }
    }
  }
}
