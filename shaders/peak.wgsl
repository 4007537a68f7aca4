// FMA-bound kernel that measures the adapter's arithmetic peak: each invocation runs 8 independent
// vec4 fma chains in registers (no memory traffic in the loop) and writes one value so the work
// cannot be optimised away. FLOPs = invocations · iters · 8 chains · 4 lanes · 2.

struct PeakParams {
  iters: u32,
  seed: f32,
}

@group(0) @binding(0) var<storage, read_write> sink: array<f32>;
@group(0) @binding(1) var<uniform> p: PeakParams;

@compute @workgroup_size(64)
fn fma8(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_id(gid, nwg, 64u);
  let x = vec4<f32>(f32(i) * 1e-9, 0.5, 0.25, 0.125) + p.seed;
  let m = vec4<f32>(0.9999, 0.9998, 0.9997, 0.9996);
  var a0 = x; var a1 = x + 1.0; var a2 = x + 2.0; var a3 = x + 3.0;
  var a4 = x + 4.0; var a5 = x + 5.0; var a6 = x + 6.0; var a7 = x + 7.0;
  for (var it = 0u; it < p.iters; it++) {
    a0 = fma(a0, m, x); a1 = fma(a1, m, x); a2 = fma(a2, m, x); a3 = fma(a3, m, x);
    a4 = fma(a4, m, x); a5 = fma(a5, m, x); a6 = fma(a6, m, x); a7 = fma(a7, m, x);
  }
  let s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  sink[i] = s.x + s.y + s.z + s.w;
}
