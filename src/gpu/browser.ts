// Device acquisition in a browser (a dedicated Worker or the page).
import { contextFromGpu, type GpuContext } from './context.ts';

export async function createBrowserContext(): Promise<GpuContext> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new Error(
      'WebGPU is not available in this browser. Use a recent Chrome or Edge; on Linux start it with ' +
        '--enable-unsafe-webgpu (and --use-webgpu-adapter=swiftshader when there is no GPU), and serve ' +
        'the app from http://localhost or https.',
    );
  }
  return contextFromGpu(gpu, 'browser');
}
