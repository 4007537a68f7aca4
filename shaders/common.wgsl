// Shared helpers, prepended to every shader module.

// The matmul kernels' parameters (shaders/matmul.wgsl, shaders/matmul_gemv.wgsl).
struct MmParams {
  m: u32,
  n: u32,
  k: u32,
  a_batch: u32,   // element strides between batches
  b_batch: u32,
  c_batch: u32,
}

// Flat invocation index for 1-D work laid over a 2-D grid of workgroups (see grid1d in context.ts).
fn flat_id(gid: vec3<u32>, nwg: vec3<u32>, wg_size: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wg_size;
}

// Flat workgroup index for one-workgroup-per-row kernels.
fn flat_wg(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// PCG hash; bit-identical to pcgHash in src/util/rng.ts.
fn pcg_hash(input: u32) -> u32 {
  let state = input * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

const NEG_INF: f32 = -3.402823e38;
