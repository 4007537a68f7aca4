// Embedding gather: out[n, :] = table[ids[n], :]. An id outside the vocabulary writes NaN, so the
// error surfaces instead of reading another row.

struct EmbParams {
  total: u32,   // n · dim
  dim: u32,
  vocab: u32,
}

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: EmbParams;

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.total) { return; }
  let id = ids[i / p.dim];
  if (id >= p.vocab) {
    out[i] = bitcast<f32>(0x7fc00000u | (id & 0u)); // NaN, built at run time
    return;
  }
  out[i] = table[id * p.dim + i % p.dim];
}

// ---- backward ------------------------------------------------------------------------------------
// dtable[id, e] = Σ over positions j of id: dout[j, e], without atomics: the host builds a CSR
// list (ids are host-known in training): `offsets` [vocab + 1] and the positions sorted by id,
// bound as `ids`; `table` is bound to dout and `out` to dtable [vocab, dim]; p.total = vocab · dim.
// One invocation per element of dtable; rows of ids that do not occur are written as zeros.

@group(0) @binding(4) var<storage, read> offsets: array<u32>;

@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.total) { return; }
  let id = i / p.dim;
  let e = i % p.dim;
  var s = 0.0;
  for (var j = offsets[id]; j < offsets[id + 1u]; j++) { s += table[ids[j] * p.dim + e]; }
  out[i] = s;
}
