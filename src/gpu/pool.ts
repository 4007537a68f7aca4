// Reuses GPU buffers by exact byte size: a model's shapes repeat every step, so exact-size buckets
// hit almost always and waste nothing.

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private live = 0;
  private liveBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  acquire(byteLength: number, usage: GPUBufferUsageFlags, label?: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(byteLength / 16) * 16);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    this.live++;
    this.liveBytes += size;
    const reused = list?.pop();
    if (reused) return reused;
    return this.device.createBuffer({ size, usage, label });
  }

  release(buffer: GPUBuffer): void {
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
    this.live--;
    this.liveBytes -= buffer.size;
  }

  stats(): { live: number; liveBytes: number; pooled: number } {
    let pooled = 0;
    for (const l of this.free.values()) pooled += l.length;
    return { live: this.live, liveBytes: this.liveBytes, pooled };
  }

  /** Frees every pooled (not live) buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }
}
