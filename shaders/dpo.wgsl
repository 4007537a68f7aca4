// Direct preference losses on sequence log-probabilities (DESIGN §9, TRL's names), one pair per
// invocation. Input rows: (policy chosen, policy rejected, reference chosen, reference rejected,
// chosen length, rejected length); output rows: (loss, ∂loss/∂policy_chosen, ∂loss/∂policy_rejected).
// The two derivatives become per-token weights of the cross-entropy backward (see src/train/dpo.ts).

struct DpoParams {
  pairs: u32,
  loss_type: u32, // 0 sigmoid, 1 hinge, 2 ipo
  beta: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: DpoParams;

const WG: u32 = 64u;

// log(1 + e) for e ≥ 0, accurate in f32 for small e too (where 1 + e rounds to 1): a well-separated
// pair has a loss of e^−z that must not become 0.
fn log1p_pos(e: f32) -> f32 {
  if (e < 0.01) { return e * (1.0 - e * (0.5 - e / 3.0)); }
  return log(1.0 + e);
}

// log σ(z) without overflow or cancellation.
fn log_sigmoid(z: f32) -> f32 {
  return min(z, 0.0) - log1p_pos(exp(-abs(z)));
}

// σ(−z) without overflow.
fn sigmoid_neg(z: f32) -> f32 {
  if (z >= 0.0) {
    let e = exp(-z);
    return e / (1.0 + e);
  }
  return 1.0 / (1.0 + exp(z));
}

@compute @workgroup_size(64)
fn pair_loss(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.pairs) { return; }
  let pc = x[i * 6u];
  let pr = x[i * 6u + 1u];
  let rc = x[i * 6u + 2u];
  let rr = x[i * 6u + 3u];
  let lc = max(x[i * 6u + 4u], 1.0);
  let lr = max(x[i * 6u + 5u], 1.0);
  var loss = 0.0;
  var dc = 0.0;
  var dr = 0.0;
  if (p.loss_type == 2u) {
    // IPO: (Δ̄ − 1/(2β))² with length-averaged log-ratios.
    let d = (pc - rc) / lc - (pr - rr) / lr - 0.5 / p.beta;
    loss = d * d;
    dc = 2.0 * d / lc;
    dr = -2.0 * d / lr;
  } else {
    let z = p.beta * ((pc - rc) - (pr - rr));
    var dz = 0.0;
    if (p.loss_type == 1u) {
      loss = max(0.0, 1.0 - z);
      if (1.0 - z > 0.0) { dz = -1.0; }
    } else {
      loss = -log_sigmoid(z);
      dz = -sigmoid_neg(z);
    }
    dc = p.beta * dz;
    dr = -p.beta * dz;
  }
  out[i * 3u] = loss;
  out[i * 3u + 1u] = dc;
  out[i * 3u + 2u] = dr;
}
