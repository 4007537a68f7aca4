// The decoder's fused attention input: one matmul made q, k and v side by side ([batch, seq,
// hq + 2·hkv, head_dim]); this kernel rotates q and k (RoPE, interleaved pairs, as rope.wgsl) and
// appends the rotated k and the plain v to the KV cache ([batch, kv_rows, hkv, head_dim], token s at
// row pos0 + s) in one dispatch instead of two rotations and four copies. Same arithmetic as rope.

struct RopeQkvParams {
  pairs: u32,     // batch · seq · (hq + 2·hkv) · head_dim/2
  seq: u32,
  hq: u32,
  hkv: u32,
  half: u32,      // head_dim / 2
  pos0: u32,
  kv_rows: u32,   // positions per sequence in k_out / v_out
}

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> cos_t: array<f32>;
@group(0) @binding(2) var<storage, read> sin_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> q_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> k_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_out: array<f32>;
@group(0) @binding(6) var<uniform> p: RopeQkvParams;

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.pairs) { return; }
  let heads = p.hq + 2u * p.hkv;
  let j = i % p.half;
  let h = (i / p.half) % heads;
  let tok = i / (p.half * heads);
  let t = tok % p.seq;
  let pos = p.pos0 + t;
  let x0 = qkv[2u * i];
  let x1 = qkv[2u * i + 1u];
  let c = cos_t[pos * p.half + j];
  let s = sin_t[pos * p.half + j];
  if (h < p.hq) {
    let o = (tok * p.hq + h) * p.half + j;
    q_out[2u * o] = x0 * c - x1 * s;
    q_out[2u * o + 1u] = x1 * c + x0 * s;
    return;
  }
  let b = tok / p.seq;
  let kvh = (h - p.hq) % p.hkv;
  let o = ((b * p.kv_rows + pos) * p.hkv + kvh) * p.half + j;
  if (h < p.hq + p.hkv) {
    k_out[2u * o] = x0 * c - x1 * s;
    k_out[2u * o + 1u] = x1 * c + x0 * s;
  } else {
    v_out[2u * o] = x0;
    v_out[2u * o + 1u] = x1;
  }
}
