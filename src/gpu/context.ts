// The GPU context: one GPUDevice plus the things every op needs — a pipeline cache, a buffer pool,
// a command encoder that batches dispatches until a readback, and device-loss reporting.
import { BufferPool } from './pool.ts';
import { shaderSource, type ShaderName } from './shaders.ts';
import { type DType, type HostTensor, numel } from './host.ts';

export interface AdapterSummary {
  /** Where the device came from. */
  runtime: 'browser' | 'node-dawn';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  features: string[];
  /** Features this device was created with (a subset of `features`). */
  enabledFeatures: string[];
  limits: Record<string, number>;
}

export interface DeviceLoss {
  reason: string;
  message: string;
}

export type Binding = GPUBuffer | Tensor | undefined;

export interface DispatchSpec {
  shader: ShaderName;
  entry: string;
  /** Buffers by binding number in @group(0); `undefined` skips a binding the entry does not use. */
  bindings: Binding[];
  /** Contents of the uniform buffer bound at `uniformBinding` (u32/i32/f32 bit patterns). */
  uniforms?: ArrayBufferView;
  uniformBinding?: number;
  workgroups: [number, number?, number?];
  /** Pipeline-overridable constants. */
  constants?: Record<string, number>;
}

export const MAX_WORKGROUPS_PER_DIM = 65535;

/** The matmul kernels' modules: the static ones and the generated variants (matmul_*). */
export const isMatmulShader = (shader: string): boolean => shader === 'matmul' || shader.startsWith('matmul_');

/** A grid of at least `n` workgroups, spread over x and y when n exceeds one dimension's limit.
 *  Kernels recover the flat index as wid.x + wid.y * num_workgroups.x. */
export function grid1d(n: number): [number, number] {
  const x = Math.min(Math.max(n, 1), MAX_WORKGROUPS_PER_DIM);
  return [x, Math.ceil(Math.max(n, 1) / x)];
}

const pipelineKey = (shader: string, entry: string, constants?: Record<string, number>): string => `${shader}:${entry}:${constants ? JSON.stringify(constants) : ''}`;

/** Entries kept: enough for every distinct dispatch of a training step of the models the tab runs. */
const BIND_GROUP_CACHE = 8192;
const UNIFORM_CACHE = 4096;

const TENSOR_USAGE = 0x0080 /* STORAGE */ | 0x0004 /* COPY_SRC */ | 0x0008; /* COPY_DST */
const UNIFORM_USAGE = 0x0040 /* UNIFORM */ | 0x0008; /* COPY_DST */
const READBACK_USAGE = 0x0001 /* MAP_READ */ | 0x0008; /* COPY_DST */

export class GpuContext {
  readonly pool: BufferPool;
  /** When set, every new op output is filled with NaN first, so an unwritten element shows up. */
  poisonOutputs = false;
  /** Overrides the matmul kernel variant the ops pick for this device (see src/ops/matmul.ts). */
  matmulVariant: string | null = null;
  /** Choices between equivalent implementations made by timing them on this device (e.g. where
   *  sampling ranks logits: 'gpu' or 'host'), keyed by what was measured; set one to force it. */
  readonly choices = new Map<string, string>();
  lostInfo: DeviceLoss | null = null;
  readonly lost: Promise<DeviceLoss>;

  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<GPUComputePipeline, GPUBindGroupLayout>();
  /** Decoding and training repeat the same dispatches step after step (the pool hands out the
   *  same buffers in the same order): bind groups are kept by pipeline and buffers, and uniform
   *  buffers by content (immutable once written), so a repeated dispatch only records itself. */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly uniformBuffers = new Map<string, GPUBuffer>();
  /** Uniform buffers evicted from the cache; back to the pool once the commands using them are submitted. */
  private evictedUniforms: GPUBuffer[] = [];
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** Work recorded since the context began: dispatches (matmul kernels among them) and queue
   *  submissions. The bench reads differences of these to explain where time goes. */
  readonly counters = { dispatches: 0, matmulDispatches: 0, submissions: 0 };
  /** Sees every dispatch as it is recorded (the bench replays a step's dispatches to time each). */
  onDispatch: ((spec: DispatchSpec) => void) | null = null;
  private destroyed = false;
  /** Validation/out-of-memory errors nobody caught yet; the next readback or sync throws them. */
  private errors: string[] = [];

  constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
  ) {
    this.pool = new BufferPool(device);
    this.lost = device.lost.then((info) => {
      const loss = { reason: String(info.reason), message: info.message || 'device lost' };
      this.lostInfo = loss;
      return loss;
    });
    device.addEventListener('uncapturederror', (ev) => {
      this.errors.push((ev as GPUUncapturedErrorEvent).error.message);
    });
  }

  /** Throws the first GPU error raised since the last check (shader compile, validation, OOM). */
  throwIfFailed(): void {
    if (this.lostInfo) throw new Error(`GPU device lost (${this.lostInfo.reason}): ${this.lostInfo.message}`);
    if (this.errors.length) {
      const first = this.errors[0];
      const more = this.errors.length - 1;
      this.errors = [];
      throw new Error(`GPU error: ${first}${more ? ` (and ${more} more)` : ''}`);
    }
  }

  hasFeature(name: string): boolean {
    return this.device.features.has(name);
  }

  /** A CPU implementation of WebGPU (SwiftShader, WARP, llvmpipe): kernels tuned for CPUs win there. */
  get isCpuAdapter(): boolean {
    const a = this.adapter;
    return a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|warp|microsoft basic/i.test(`${a.vendor} ${a.architecture} ${a.device} ${a.description}`);
  }

  // ---- tensors -------------------------------------------------------------------------------

  /** A new uninitialised tensor (NaN-filled when `poisonOutputs`). */
  empty(shape: readonly number[], dtype: DType = 'f32', label?: string): Tensor {
    const n = numel(shape);
    const buffer = this.pool.acquire(n * 4, TENSOR_USAGE, label);
    const t = new Tensor(this, buffer, shape, dtype);
    if (this.poisonOutputs) {
      this.flush();
      const nan = new Float32Array(buffer.size / 4).fill(Number.NaN);
      this.device.queue.writeBuffer(buffer, 0, nan);
    }
    return t;
  }

  upload(host: HostTensor, label?: string): Tensor {
    const dtype: DType = host.data instanceof Uint32Array ? 'u32' : 'f32';
    // GPU tensors are f32: float64 host data (CPU references run in f64 too) is rounded once here.
    const data = host.data instanceof Float64Array ? Float32Array.from(host.data) : host.data;
    const buffer = this.pool.acquire(data.length * 4, TENSOR_USAGE, label);
    // writeBuffer runs before any not-yet-submitted commands; submit them first so a recycled
    // buffer is not overwritten before earlier dispatches have read it.
    this.flush();
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return new Tensor(this, buffer, host.shape, dtype);
  }

  async read(t: Tensor): Promise<HostTensor> {
    const bytes = t.size * 4;
    const staging = this.pool.acquire(bytes, READBACK_USAGE, 'readback');
    this.commandEncoder().copyBufferToBuffer(t.buffer, 0, staging, 0, Math.ceil(bytes / 4) * 4);
    this.flush();
    try {
      await staging.mapAsync(0x0001 /* GPUMapMode.READ */, 0, bytes);
    } catch (e) {
      this.pool.release(staging);
      this.throwIfFailed(); // the real cause (device loss, validation, out of memory) if there is one
      throw e;
    }
    const copy = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.pool.release(staging);
    this.throwIfFailed();
    const data = t.dtype === 'u32' ? new Uint32Array(copy) : new Float32Array(copy);
    return { shape: [...t.shape], data };
  }

  // ---- dispatch --------------------------------------------------------------------------------

  pipeline(shader: ShaderName, entry: string, constants?: Record<string, number>, key = pipelineKey(shader, entry, constants)): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (p) return p;
    let module = this.modules.get(shader);
    if (!module) {
      module = this.device.createShaderModule({ code: shaderSource(shader), label: shader });
      this.modules.set(shader, module);
    }
    p = this.device.createComputePipeline({
      layout: 'auto',
      label: `${shader}.${entry}`,
      compute: { module, entryPoint: entry, constants },
    });
    this.pipelines.set(key, p);
    return p;
  }

  dispatch(spec: DispatchSpec): void {
    if (this.destroyed) throw new Error('GPU context was destroyed');
    if (this.lostInfo) throw new Error(`GPU device lost (${this.lostInfo.reason}): ${this.lostInfo.message}`);
    const pkey = pipelineKey(spec.shader, spec.entry, spec.constants);
    const pipeline = this.pipeline(spec.shader, spec.entry, spec.constants, pkey);
    const buffers: Array<[number, GPUBuffer]> = [];
    spec.bindings.forEach((b, binding) => {
      if (b) buffers.push([binding, b instanceof Tensor ? b.buffer : b]);
    });
    if (spec.uniforms) buffers.push([spec.uniformBinding ?? spec.bindings.length, this.uniformBuffer(spec.uniforms)]);
    const key = `${pkey}|${buffers.map(([i, b]) => `${i}=${this.bufferId(b)}`).join(',')}`;
    let bindGroup = this.bindGroups.get(key);
    if (bindGroup) {
      this.bindGroups.delete(key); // most recently used last
    } else {
      let layout = this.layouts.get(pipeline);
      if (!layout) this.layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
      bindGroup = this.device.createBindGroup({ layout, entries: buffers.map(([binding, buffer]) => ({ binding, resource: { buffer } })) });
      if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.delete(this.bindGroups.keys().next().value!);
    }
    this.bindGroups.set(key, bindGroup);
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y = 1, z = 1] = spec.workgroups;
    pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
    if (isMatmulShader(spec.shader)) this.counters.matmulDispatches++;
    this.onDispatch?.(spec);
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  /** A uniform buffer holding these bytes: the cached one, or a new one written now. */
  private uniformBuffer(data: ArrayBufferView): GPUBuffer {
    const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4);
    const key = words.join(',');
    let u = this.uniformBuffers.get(key);
    if (u) {
      this.uniformBuffers.delete(key);
    } else {
      u = this.pool.acquire(data.byteLength, UNIFORM_USAGE, 'uniforms');
      this.device.queue.writeBuffer(u, 0, data.buffer, data.byteOffset, data.byteLength);
      if (this.uniformBuffers.size >= UNIFORM_CACHE) {
        const [oldKey, old] = this.uniformBuffers.entries().next().value!;
        this.uniformBuffers.delete(oldKey);
        this.evictedUniforms.push(old);
      }
    }
    this.uniformBuffers.set(key, u);
    return u;
  }

  /** Records a copy of `count` elements from src[srcOffset..] to dst[dstOffset..] (in order with dispatches). */
  copy(src: Tensor, srcOffset: number, dst: Tensor, dstOffset: number, count: number): void {
    if (srcOffset + count > src.capacity || dstOffset + count > dst.capacity) {
      throw new Error(`copy of ${count} elements out of range (src ${srcOffset}/${src.capacity}, dst ${dstOffset}/${dst.capacity})`);
    }
    if (count === 0) return;
    this.commandEncoder().copyBufferToBuffer(src.buffer, srcOffset * 4, dst.buffer, dstOffset * 4, count * 4);
  }

  /** Submits every recorded command. */
  flush(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.counters.submissions++;
    }
    // Safe to rewrite now: every command that read them is submitted (queue order does the rest).
    for (const u of this.evictedUniforms) this.pool.release(u);
    this.evictedUniforms = [];
  }

  /** Submits and waits for the GPU to finish (for timing). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed();
  }

  /** True once destroy() was called: a loss after that was asked for, not suffered. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.flush();
    this.destroyed = true;
    this.bindGroups.clear();
    for (const u of this.uniformBuffers.values()) this.pool.release(u);
    this.uniformBuffers.clear();
    this.pool.trim();
    this.device.destroy();
  }

  private commandEncoder(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.commandEncoder().beginComputePass();
    return this.pass;
  }
}

/** An f32 (or u32 ids) tensor living in a GPU buffer. Row-major; `release()` returns the buffer. */
export class Tensor {
  readonly size: number;
  private released = false;

  constructor(
    readonly ctx: GpuContext,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType = 'f32',
    /** Views share their owner's buffer and never return it to the pool. */
    private readonly isView = false,
  ) {
    this.size = numel(shape);
    if (this.size > this.capacity) throw new Error(`shape [${shape}] needs ${this.size} elements, buffer holds ${this.capacity}`);
  }

  /** Elements the buffer can hold. */
  get capacity(): number {
    return Math.floor(this.buffer.size / 4);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Same buffer, new shape (same element count); the result owns nothing. */
  reshape(shape: readonly number[]): Tensor {
    if (numel(shape) !== this.size) throw new Error(`cannot reshape [${this.shape}] to [${shape}]`);
    return new Tensor(this.ctx, this.buffer, shape, this.dtype, true);
  }

  /** Same buffer, new shape, and the buffer's ownership moves to the result (this one is spent). */
  intoShape(shape: readonly number[]): Tensor {
    if (numel(shape) !== this.size) throw new Error(`cannot reshape [${this.shape}] to [${shape}]`);
    if (this.released) throw new Error('tensor was released');
    const moved = new Tensor(this.ctx, this.buffer, shape, this.dtype, this.isView);
    this.released = true;
    return moved;
  }

  /** The first numel(shape) elements of the buffer under a new shape (e.g. the filled part of a
   *  KV cache); the result owns nothing. */
  view(shape: readonly number[]): Tensor {
    return new Tensor(this.ctx, this.buffer, shape, this.dtype, true);
  }

  read(): Promise<HostTensor> {
    return this.ctx.read(this);
  }

  release(): void {
    if (this.released || this.isView) return;
    this.released = true;
    this.ctx.pool.release(this.buffer);
  }
}

/** Limits worth raising to the adapter's maximum (the defaults are small: 128 MiB bindings). */
export const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxStorageBuffersPerShaderStage',
] as const;

export function limitsRecord(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // GPUSupportedLimits' members are prototype getters, so enumerate the prototype.
  for (const key of Object.keys(Object.getPrototypeOf(limits))) {
    const v = (limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') out[key] = v;
  }
  if (Object.keys(out).length === 0) {
    for (const key in limits) {
      const v = (limits as unknown as Record<string, unknown>)[key];
      if (typeof v === 'number') out[key] = v;
    }
  }
  return out;
}

export const OPTIONAL_FEATURES: GPUFeatureName[] = ['subgroups'];

/** Requests a device with raised limits and wraps it in a context. Shared by browser and Node. */
export async function contextFromGpu(gpu: GPU, runtime: AdapterSummary['runtime']): Promise<GpuContext> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('WebGPU is available but no adapter was found (requestAdapter returned null).');
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  // Subgroups let CPU-tuned kernels share loads (quadBroadcast); optional everywhere.
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'aya-playground' });
  const info = adapter.info;
  const summary: AdapterSummary = {
    runtime,
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || 'unknown',
    device: info.device || '',
    description: info.description || '',
    isFallbackAdapter: Boolean((info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    subgroupMinSize: (info as unknown as { subgroupMinSize?: number }).subgroupMinSize,
    subgroupMaxSize: (info as unknown as { subgroupMaxSize?: number }).subgroupMaxSize,
    features: [...adapter.features].sort(),
    enabledFeatures: [...device.features].sort(),
    limits: limitsRecord(device.limits),
  };
  return new GpuContext(device, summary);
}
