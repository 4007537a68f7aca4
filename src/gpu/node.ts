// Device acquisition in Node through Dawn (npm `webgpu`). Never imported by browser code.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { contextFromGpu, type GpuContext } from './context.ts';

/** Debian's chromium package ships SwiftShader's Vulkan driver; Dawn finds it through this file. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Points the Vulkan loader at SwiftShader when no driver is configured and the file exists.
 *  Returns the ICD in use (or undefined). Must run before Dawn creates its Vulkan instance. */
export function configureVulkanDriver(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.platform !== 'linux') return undefined;
  // SwiftShader's Vulkan WSI probes for Wayland and prints an error when this is unset.
  if (!env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = tmpdir();
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES) return env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES;
  if (existsSync(SWIFTSHADER_ICD)) {
    env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    return SWIFTSHADER_ICD;
  }
  return undefined;
}

let gpuSingleton: GPU | null = null;

export async function createNodeContext(): Promise<GpuContext> {
  const icd = configureVulkanDriver();
  if (!gpuSingleton) {
    let mod: typeof import('webgpu');
    try {
      mod = await import('webgpu');
    } catch (e) {
      throw new Error(`could not load Dawn's Node bindings (npm 'webgpu'): ${(e as Error).message}`);
    }
    Object.assign(globalThis, mod.globals);
    gpuSingleton = mod.create([]) as GPU;
  }
  try {
    return await contextFromGpu(gpuSingleton, 'node-dawn');
  } catch (e) {
    const hint =
      process.platform === 'linux'
        ? ` On Linux without a GPU install Debian's 'chromium' (it ships SwiftShader: ${SWIFTSHADER_ICD}) and ` +
          `'libvulkan1'${icd ? ` (VK_ICD_FILENAMES=${icd} is set)` : ''}.`
        : '';
    throw new Error(`${(e as Error).message}${hint}`);
  }
}

/** Lets Node exit: Dawn keeps the process alive while its GPU object is referenced. */
export function releaseNodeGpu(): void {
  gpuSingleton = null;
}
