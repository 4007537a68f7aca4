// Backward of causal attention with grouped KV heads (see attention.wgsl for the forward).
// q, dout, dq: [batch, T, Hq, D]; k, v, dk, dv: [batch, S, Hkv, D]; query t sits at position
// pos0 + t and sees keys s ≤ pos0 + t. No float atomics: three passes, each output element
// written by exactly one invocation.
//   1. scores (one invocation per (b, t, h)): recomputes P = softmax(q·kᵀ·scale) and stores
//      P and dS = P ⊙ (dP − Σ_s P⊙dP), dP = dout·vᵀ, into scratch [batch, Hq, T, S]; masked
//      entries are 0.
//   2. dq (one invocation per element): dq = scale · dS · k.
//   3. dkv (one invocation per element of dk/dv): sums over the t and query heads of its group:
//      dk = scale · dSᵀ · q, dv = Pᵀ · dout.

struct AttnBwdParams {
  rows: u32,      // batch · T · Hq (pass 1), or the element count of the pass's output
  t_len: u32,
  s_len: u32,
  hq: u32,
  hkv: u32,
  d: u32,
  pos0: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;
@group(0) @binding(5) var<storage, read_write> dscores: array<f32>;
@group(0) @binding(6) var<storage, read_write> dq: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
@group(0) @binding(9) var<uniform> p: AttnBwdParams;

const WG: u32 = 64u;

@compute @workgroup_size(64)
fn scores(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = flat_id(gid, nwg, WG);
  if (row >= p.rows) { return; }
  let h = row % p.hq;
  let t = (row / p.hq) % p.t_len;
  let b = row / (p.hq * p.t_len);
  let kh = h / (p.hq / p.hkv);
  let qbase = row * p.d;
  let kv_row = p.hkv * p.d;
  let kvbase = b * p.s_len * kv_row + kh * p.d;
  let sbase = ((b * p.hq + h) * p.t_len + t) * p.s_len;
  let last = min(p.s_len, p.pos0 + t + 1u);

  var m = NEG_INF;
  for (var s = 0u; s < last; s++) {
    let off = kvbase + s * kv_row;
    var score = 0.0;
    for (var d = 0u; d < p.d; d++) { score += q[qbase + d] * k[off + d]; }
    score *= p.scale;
    probs[sbase + s] = score;
    m = max(m, score);
  }
  var l = 0.0;
  for (var s = 0u; s < last; s++) {
    let e = exp(probs[sbase + s] - m);
    probs[sbase + s] = e;
    l += e;
  }
  let inv = 1.0 / l;
  var delta = 0.0;
  for (var s = 0u; s < last; s++) {
    let off = kvbase + s * kv_row;
    let pr = probs[sbase + s] * inv;
    probs[sbase + s] = pr;
    var dp = 0.0;
    for (var d = 0u; d < p.d; d++) { dp += dout[qbase + d] * v[off + d]; }
    dscores[sbase + s] = dp;
    delta += pr * dp;
  }
  for (var s = 0u; s < last; s++) {
    dscores[sbase + s] = probs[sbase + s] * (dscores[sbase + s] - delta);
  }
  for (var s = last; s < p.s_len; s++) {
    probs[sbase + s] = 0.0;
    dscores[sbase + s] = 0.0;
  }
}

@compute @workgroup_size(64)
fn grad_q(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.rows) { return; }
  let e = i % p.d;
  let row = i / p.d;
  let h = row % p.hq;
  let t = (row / p.hq) % p.t_len;
  let b = row / (p.hq * p.t_len);
  let kh = h / (p.hq / p.hkv);
  let kv_row = p.hkv * p.d;
  let kvbase = b * p.s_len * kv_row + kh * p.d + e;
  let sbase = ((b * p.hq + h) * p.t_len + t) * p.s_len;
  let last = min(p.s_len, p.pos0 + t + 1u);
  var acc = 0.0;
  for (var s = 0u; s < last; s++) { acc += dscores[sbase + s] * k[kvbase + s * kv_row]; }
  dq[i] = acc * p.scale;
}

@compute @workgroup_size(64)
fn grad_kv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.rows) { return; }
  let e = i % p.d;
  let kh = (i / p.d) % p.hkv;
  let s = (i / (p.d * p.hkv)) % p.s_len;
  let b = i / (p.d * p.hkv * p.s_len);
  let group = p.hq / p.hkv;
  // Queries t with pos0 + t ≥ s see key s.
  var t0 = 0u;
  if (s > p.pos0) { t0 = s - p.pos0; }
  var acc_k = 0.0;
  var acc_v = 0.0;
  for (var h = kh * group; h < (kh + 1u) * group; h++) {
    for (var t = t0; t < p.t_len; t++) {
      let si = ((b * p.hq + h) * p.t_len + t) * p.s_len + s;
      let qi = ((b * p.t_len + t) * p.hq + h) * p.d + e;
      acc_k += dscores[si] * q[qi];
      acc_v += probs[si] * dout[qi];
    }
  }
  dk[i] = acc_k * p.scale;
  dv[i] = acc_v;
}
