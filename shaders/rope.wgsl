// Rotary position embedding with INTERLEAVED pairs (Cohere): pair j of a head is (x[2j], x[2j+1]),
// rotated by θ = pos · inv_freq_j. cos/sin come from a table computed on the host in float64
// ([positions, head_dim/2]), because WGSL's sin/cos may be only ~2^-11 accurate.
// x, out: [batch, seq, heads, head_dim]; token t of the sequence sits at position pos0 + t.

struct RopeParams {
  pairs: u32,     // batch · seq · heads · head_dim/2
  seq: u32,
  heads: u32,
  half: u32,      // head_dim / 2
  pos0: u32,
  sign: f32,      // 1 forward, −1 backward
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> cos_t: array<f32>;
@group(0) @binding(2) var<storage, read> sin_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: RopeParams;

const WG: u32 = 256u;

// sign = 1: the forward rotation by θ. sign = −1: the backward pass — the rotation is orthogonal,
// so dx is dy rotated by −θ (x = dy, out = dx).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.pairs) { return; }
  let j = i % p.half;
  let t = (i / (p.half * p.heads)) % p.seq;
  let pos = p.pos0 + t;
  let c = cos_t[pos * p.half + j];
  let s = p.sign * sin_t[pos * p.half + j];
  let x0 = x[2u * i];
  let x1 = x[2u * i + 1u];
  out[2u * i] = x0 * c - x1 * s;
  out[2u * i + 1u] = x1 * c + x0 * s;
}
