// What the engine's parts share, and what differs between the places it runs (the platform).
import type { GpuContext } from '../gpu/context.ts';
import type { KernelChoices } from '../ops/tune.ts';
import type { UdhrSource } from '../data/corpus.ts';
import type { MergeConfig } from '../merge/config.ts';
import type { MergeFoldersOptions, MergeFoldersResult } from '../merge/merge.node.ts';
import type { ZooManifest } from '../store/builtinModels.ts';
import type { ModelStore } from './models.ts';
import type { DeviceManager } from './device.ts';
import type { ModelLibrary } from './library.ts';
import type { Resources } from './resources.ts';
import type { TeacherBackend, TeacherHub } from './teachers.ts';
import type { OnnxProvider } from './onnxTeachers.ts';

/** Files outside the model library (the zoo's log and manifest): Node only. */
export interface OutputFiles {
  write(path: string, bytes: Uint8Array): Promise<void>;
  append(path: string, text: string): Promise<void>;
  /** `path` joined to `name`. */
  join(path: string, name: string): string;
  /** A path as the user would type it (relative to where the command runs). */
  display(path: string): string;
}

/** What differs between the browser Worker, the CLI and the desktop runtime. */
export interface EnginePlatform {
  acquireGpu(): Promise<GpuContext>;
  runtime: string;
  host: 'tab' | 'runtime' | 'cli';
  /** UDHR declarations by file stem. */
  udhr: UdhrSource;
  /** The shipped universal tokenizer's tokenizer.json. */
  builtinTokenizer(): Promise<unknown>;
  models: ModelStore;
  /** The shipped zoo's manifest (its held-out loss matrix). */
  zooManifest?(): Promise<ZooManifest | null>;
  /** The runtime's model library folders. */
  libraryRoots?: string[];
  /** Node: merges folders into a folder tensor by tensor (model references are paths). */
  mergeFolders?(config: MergeConfig, outDir: string, opts: MergeFoldersOptions): Promise<MergeFoldersResult>;
  outputs?: OutputFiles;
  /** The machine, for provenance (cores, memory). */
  machine?(): Record<string, unknown>;
  /** Teachers that are not our models and come with the platform (the runtime's GGUF files). */
  teachers?: TeacherBackend[];
  /** Where the measured kernel choices are kept per adapter (IndexedDB, a file); absent: nowhere. */
  kernelChoices?: KernelChoiceStore;
  /** ONNX teachers: onnxruntime-web's execution providers to try, in order (default: wasm). */
  onnxProviders?: OnnxProvider[];
}

export interface KernelChoiceStore {
  /** Where they are kept, for people (a path, "this browser's IndexedDB"). */
  where: string;
  load(adapter: string): Promise<KernelChoices | null>;
  save(choices: KernelChoices): Promise<void>;
}

export interface EngineCore {
  platform: EnginePlatform;
  device: DeviceManager;
  library: ModelLibrary;
  resources: Resources;
  teachers: TeacherHub;
  /** "aya-playground 0.1.0" (+ where), for provenance. */
  createdBy: string;
  /** The kernel choices in force on each context (stored for its adapter, or just measured). */
  kernels: WeakMap<GpuContext, KernelChoices>;
}

/** Seconds left, from the time so far and the work done. */
export function eta(t0: number, done: number, total: number): number {
  return done > 0 ? ((performance.now() - t0) / 1000 / done) * (total - done) : NaN;
}
