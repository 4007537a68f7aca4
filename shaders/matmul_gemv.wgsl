// v7's A·Bᵀ for a few rows (decoding): each invocation computes 4 adjacent outputs of one row,
// reading A and B four floats at a time (vec4 loads: needs K % 4 = 0; the op uses v6's kernel
// otherwise). On SwiftShader every storage load is an emulated gather, so loads per FMA set the
// speed: 5 vec4 loads per 16 FMAs here, 2 scalar loads per FMA in v1. Each output still adds its
// products one at a time in K order, as v1 does, so v1, v6 and v7 agree bit for bit.

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: MmParams;

@compute @workgroup_size(64, 1)
fn nt(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = gid.y;
  let c0 = gid.x * 4u;
  if (row >= p.m || c0 >= p.n) { return; }
  let k4 = p.k / 4u;
  let ao = (wid.z * p.a_batch + row * p.k) / 4u;
  let bb = wid.z * p.b_batch;
  // Columns past N read the last row of B and are not written.
  let b0 = (bb + c0 * p.k) / 4u;
  let b1 = (bb + min(c0 + 1u, p.n - 1u) * p.k) / 4u;
  let b2 = (bb + min(c0 + 2u, p.n - 1u) * p.k) / 4u;
  let b3 = (bb + min(c0 + 3u, p.n - 1u) * p.k) / 4u;
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < k4; i++) {
    let av = a[ao + i];
    let w0 = b[b0 + i];
    let w1 = b[b1 + i];
    let w2 = b[b2 + i];
    let w3 = b[b3 + i];
    s.x += av.x * w0.x; s.x += av.y * w0.y; s.x += av.z * w0.z; s.x += av.w * w0.w;
    s.y += av.x * w1.x; s.y += av.y * w1.y; s.y += av.z * w1.z; s.y += av.w * w1.w;
    s.z += av.x * w2.x; s.z += av.y * w2.y; s.z += av.z * w2.z; s.z += av.w * w2.w;
    s.w += av.x * w3.x; s.w += av.y * w3.y; s.w += av.z * w3.z; s.w += av.w * w3.w;
  }
  let co = wid.z * p.c_batch + row * p.n + c0;
  c[co] = s.x;
  if (c0 + 1u < p.n) { c[co + 1u] = s.y; }
  if (c0 + 2u < p.n) { c[co + 2u] = s.z; }
  if (c0 + 3u < p.n) { c[co + 3u] = s.w; }
}

// v8: the same for 4 rows at once (batched decoding: K sequences step together), so each B load
// serves 4 rows: 8 vec4 loads per 64 FMAs. Rows past M read A's last row and are not written.
@compute @workgroup_size(64, 1)
fn nt_r4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let r0 = gid.y * 4u;
  let c0 = gid.x * 4u;
  if (r0 >= p.m || c0 >= p.n) { return; }
  let k4 = p.k / 4u;
  let ab = wid.z * p.a_batch;
  let a0 = (ab + r0 * p.k) / 4u;
  let a1 = (ab + min(r0 + 1u, p.m - 1u) * p.k) / 4u;
  let a2 = (ab + min(r0 + 2u, p.m - 1u) * p.k) / 4u;
  let a3 = (ab + min(r0 + 3u, p.m - 1u) * p.k) / 4u;
  let bb = wid.z * p.b_batch;
  let b0 = (bb + c0 * p.k) / 4u;
  let b1 = (bb + min(c0 + 1u, p.n - 1u) * p.k) / 4u;
  let b2 = (bb + min(c0 + 2u, p.n - 1u) * p.k) / 4u;
  let b3 = (bb + min(c0 + 3u, p.n - 1u) * p.k) / 4u;
  var s: array<vec4<f32>, 4>;
  for (var i = 0u; i < k4; i++) {
    let w0 = b[b0 + i];
    let w1 = b[b1 + i];
    let w2 = b[b2 + i];
    let w3 = b[b3 + i];
    let rows = array<vec4<f32>, 4>(a[a0 + i], a[a1 + i], a[a2 + i], a[a3 + i]);
    for (var r = 0u; r < 4u; r++) {
      let av = rows[r];
      var t = s[r];
      t.x += av.x * w0.x; t.x += av.y * w0.y; t.x += av.z * w0.z; t.x += av.w * w0.w;
      t.y += av.x * w1.x; t.y += av.y * w1.y; t.y += av.z * w1.z; t.y += av.w * w1.w;
      t.z += av.x * w2.x; t.z += av.y * w2.y; t.z += av.z * w2.z; t.z += av.w * w2.w;
      t.w += av.x * w3.x; t.w += av.y * w3.y; t.w += av.z * w3.z; t.w += av.w * w3.w;
      s[r] = t;
    }
  }
  for (var r = 0u; r < 4u; r++) {
    if (r0 + r >= p.m) { break; }
    let co = wid.z * p.c_batch + (r0 + r) * p.n + c0;
    c[co] = s[r].x;
    if (c0 + 1u < p.n) { c[co + 1u] = s[r].y; }
    if (c0 + 2u < p.n) { c[co + 2u] = s[r].z; }
    if (c0 + 3u < p.n) { c[co + 3u] = s[r].w; }
  }
}
