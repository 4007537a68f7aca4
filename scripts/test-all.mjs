#!/usr/bin/env node
// `npm test`: the unit suite (vitest, WebGPU on Dawn) then the browser suite (Playwright on Debian's
// Chromium), and one closing line summing both: "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

mkdirSync('test-results', { recursive: true });
let passed = 0;
let failed = 0;
let skipped = 0;
let broken = false;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', shell: false });
  return r.status ?? 1;
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

// Unit suite.
rmSync('test-results/unit.json', { force: true });
const unitStatus = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile.json=test-results/unit.json']);
const unit = readJson('test-results/unit.json');
if (unit) {
  passed += unit.numPassedTests;
  failed += unit.numFailedTests;
  skipped += unit.numPendingTests + (unit.numTodoTests ?? 0);
  if (unitStatus !== 0 && unit.numFailedTests === 0) broken = true;
} else {
  console.error('unit suite produced no report');
  broken = true;
}

// Browser suite.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  console.error(`browser suite: ${chromium} not found (apt-get install -y chromium); counted as failed`);
  failed += 1;
} else if (run('npx', ['vite', 'build']) !== 0) {
  console.error('browser suite: the app did not build; counted as failed');
  failed += 1;
} else {
  rmSync('test-results/e2e.json', { force: true });
  const e2eStatus = run('npx', ['playwright', 'test']);
  const e2e = readJson('test-results/e2e.json');
  if (e2e?.stats) {
    passed += e2e.stats.expected + e2e.stats.flaky;
    failed += e2e.stats.unexpected;
    skipped += e2e.stats.skipped;
    if (e2eStatus !== 0 && e2e.stats.unexpected === 0) broken = true;
  } else {
    console.error('browser suite produced no report');
    broken = true;
  }
}

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || broken ? 1 : 0;
