// Seeded uniform random numbers in [0, 1): element i = (pcg(key + pcg(i)) >> 8) / 2^24, the same
// stream as Rng.uniform() in src/util/rng.ts for the same seed, bit for bit.

struct RandParams {
  n: u32,
  key: u32,   // pcg_hash(seed ^ 0x9e3779b9), computed on the host
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: RandParams;

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn uniform_fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  out[i] = f32(pcg_hash(p.key + pcg_hash(i)) >> 8u) / 16777216.0;
}
