// Causal scaled-dot-product attention with grouped KV heads (GQA).
// q, out: [batch, T, Hq, D]; k, v: [batch, S, Hkv, D]. Query t sits at absolute position pos0 + t
// and sees keys s ≤ pos0 + t (pos0 = S − T when decoding with a KV cache, 0 for a full sequence).
// k/v may be a partly filled KV cache: batch b's rows start at b · s_stride.
// One invocation per (batch, t, head); a streaming ("online") softmax keeps one pass over the keys.

struct AttnParams {
  rows: u32,      // batch · T · Hq
  t_len: u32,
  s_len: u32,
  hq: u32,
  hkv: u32,
  d: u32,
  pos0: u32,
  scale: f32,
  s_stride: u32,  // rows per batch in the k/v buffers (≥ s_len: a KV cache is allocated for max length)
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: AttnParams;

const WG: u32 = 64u;
const MAX_D: u32 = 256u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = flat_id(gid, nwg, WG);
  if (row >= p.rows) { return; }
  let h = row % p.hq;
  let t = (row / p.hq) % p.t_len;
  let b = row / (p.hq * p.t_len);
  let kh = h / (p.hq / p.hkv);
  let qbase = row * p.d;
  let kv_row = p.hkv * p.d;
  let kvbase = b * p.s_stride * kv_row + kh * p.d;
  let last = min(p.s_len, p.pos0 + t + 1u);

  var acc: array<f32, MAX_D>;
  for (var d = 0u; d < p.d; d++) { acc[d] = 0.0; }
  var m = NEG_INF;
  var l = 0.0;
  for (var s = 0u; s < last; s++) {
    let off = kvbase + s * kv_row;
    var score = 0.0;
    for (var d = 0u; d < p.d; d++) { score += q[qbase + d] * k[off + d]; }
    score *= p.scale;
    let m_new = max(m, score);
    let corr = exp(m - m_new);
    let w = exp(score - m_new);
    l = l * corr + w;
    for (var d = 0u; d < p.d; d++) { acc[d] = acc[d] * corr + w * v[off + d]; }
    m = m_new;
  }
  let inv = 1.0 / l;
  for (var d = 0u; d < p.d; d++) { out[qbase + d] = acc[d] * inv; }
}
