// The peers' names, for the harness and the Bench panel alike (no engine code: the UI imports it).
export const PEER_RUNTIMES = ['ours', 'ort-webgpu', 'ort-wasm', 'tfjs-webgpu'] as const;
export type PeerRuntime = (typeof PEER_RUNTIMES)[number];

export const PEER_LABELS: Record<PeerRuntime, string> = {
  ours: 'aya-playground (WGSL)',
  'ort-webgpu': 'onnxruntime-web WebGPU',
  'ort-wasm': 'onnxruntime-web WASM',
  'tfjs-webgpu': 'TensorFlow.js WebGPU',
};

export interface PeersProgress {
  fraction: number;
  message: string;
}
