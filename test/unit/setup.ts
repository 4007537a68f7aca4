// Node tests run WebGPU on Dawn; on Linux without a GPU that means SwiftShader (see src/gpu/node.ts).
import { configureVulkanDriver } from '../../src/gpu/node.ts';

configureVulkanDriver();
