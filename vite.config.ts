import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  worker: { format: 'es' },
  // The app is one page plus its engine worker; chunks of ~0.6 MB are expected, not a mistake.
  build: { target: 'es2022', chunkSizeWarningLimit: 1024 },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
  test: {
    include: ['test/unit/**/*.test.ts'],
    environment: 'node',
    // One Dawn device at a time: SwiftShader already uses every core.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/unit/setup.ts'],
  },
});
