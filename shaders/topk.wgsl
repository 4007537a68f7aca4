// The k highest logits of each row and the row's first NaN: what sampling needs, read back instead
// of the row. One 256-invocation workgroup per row, each invocation owning a contiguous chunk:
//   1. radix select on order-preserving u32 keys of the float bits (−0 taken as +0), 8 bits per
//      pass: the k-th highest key T, and how many of the elements equal to T make the cut;
//   2. every element above T, and the lowest-id elements equal to T (a prefix count over the
//      chunks ranks the ties by id), written to the output.
// The candidates come out unordered; the host sorts these k (logit descending, lower id first on
// ties), exactly the host sampler's order. Integer keys make −inf, ties and NaN behave as in the
// float64 host code, whatever the compiler assumes about non-finite floats.
//
// Output per row (u32): [first NaN index (the suppressed token aside) or 0xffffffff, then
// k × (token id, logit bits)].

struct TopkParams {
  n: u32,          // row length (vocabulary)
  k: u32,          // 1 ≤ k ≤ n
  suppress: u32,   // this token's logit counts as −inf (min_new_tokens' <eos>), 0xffffffff: none
  rows: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: TopkParams;

const WG = 256u;
const NONE = 0xffffffffu;
const NEG_INF_BITS = 0xff800000u;

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> ties: array<u32, 256>;
var<workgroup> nan_first: atomic<u32>;
var<workgroup> above: atomic<u32>;
var<workgroup> sel_prefix: u32;
var<workgroup> sel_remaining: u32;

fn order_key(raw: u32) -> u32 {
  var b = raw;
  if (b == 0x80000000u) { b = 0u; }
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b ^ 0x80000000u;
}

fn key_at(base: u32, i: u32) -> u32 {
  if (i == p.suppress) { return order_key(NEG_INF_BITS); }
  return order_key(logits[base + i]);
}

fn bits_of(key: u32) -> u32 {
  if ((key & 0x80000000u) != 0u) { return key ^ 0x80000000u; }
  return ~key;
}

@compute @workgroup_size(256)
fn topk_rows(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let row = wg.x;
  let t = lid.x;
  let base = row * p.n;
  let ob = row * (1u + 2u * p.k);
  let chunk = (p.n + WG - 1u) / WG;
  let lo = min(t * chunk, p.n);
  let hi = min(lo + chunk, p.n);
  if (t == 0u) {
    atomicStore(&nan_first, NONE);
    atomicStore(&above, 0u);
    sel_prefix = 0u;
    sel_remaining = p.k;
  }
  workgroupBarrier(); // nan_first is NONE before anyone lowers it
  for (var i = lo; i < hi; i++) {
    if (i != p.suppress && (logits[base + i] & 0x7fffffffu) > 0x7f800000u) { atomicMin(&nan_first, i); }
  }
  // 1. Radix select, most significant byte first.
  var mask = 0u;
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    atomicStore(&hist[t], 0u);
    workgroupBarrier();
    let prefix = sel_prefix;
    for (var i = lo; i < hi; i++) {
      let kk = key_at(base, i);
      if ((kk & mask) == prefix) { atomicAdd(&hist[(kk >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (t == 0u) {
      // The bucket, from the top, that holds the remaining-th highest key.
      var need = sel_remaining;
      var b = 255u;
      loop {
        let h = atomicLoad(&hist[b]);
        if (need <= h || b == 0u) { break; }
        need -= h;
        b -= 1u;
      }
      sel_prefix = prefix | (b << shift);
      sel_remaining = need;
    }
    workgroupBarrier();
    mask |= 255u << shift;
  }
  let thr = sel_prefix;
  let take_ties = sel_remaining;
  let n_above = p.k - take_ties;
  // 2. Ties ranked by id: a prefix count of each chunk's ties.
  var mine = 0u;
  for (var i = lo; i < hi; i++) {
    if (key_at(base, i) == thr) { mine++; }
  }
  ties[t] = mine;
  workgroupBarrier();
  if (t == 0u) {
    var run = 0u;
    for (var j = 0u; j < WG; j++) {
      let c = ties[j];
      ties[j] = run;
      run += c;
    }
  }
  workgroupBarrier();
  var tie_rank = ties[t];
  for (var i = lo; i < hi; i++) {
    let kk = key_at(base, i);
    var slot = NONE;
    if (kk > thr) {
      slot = atomicAdd(&above, 1u);
    } else if (kk == thr) {
      if (tie_rank < take_ties) { slot = n_above + tie_rank; }
      tie_rank++;
    }
    if (slot != NONE) {
      out[ob + 1u + 2u * slot] = i;
      out[ob + 2u + 2u * slot] = bits_of(kk);
    }
  }
  workgroupBarrier();
  if (t == 0u) { out[ob] = atomicLoad(&nan_first); }
}
