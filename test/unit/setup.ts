// Node tests run WebGPU on Dawn; on Linux without a GPU that means SwiftShader (see src/gpu/node.ts).
import { configureVulkanDriver } from '../../src/gpu/node.ts';

configureVulkanDriver();

// Measured kernel choices go to a folder of this run, never the user's ~/.cache.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.AYA_PLAYGROUND_CACHE = mkdtempSync(join(tmpdir(), 'aya-cache-'));
