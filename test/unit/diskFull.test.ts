// A full or read-only disk under the CLI's train and merge (issue 15): each run writes into a small tmpfs mounted
// in a private mount namespace (`unshare`, no root needed), so the kernel itself refuses the write
// partway with ENOSPC. The error says so and what was kept; the destination is as it was (a new
// folder is not left behind, an existing one keeps its files, no temp file remains), and a training
// run's last checkpoint, written whole before the disk filled, resumes to the weights of a run that
// never stopped.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const dir = mkdtempSync(join(tmpdir(), 'aya-disk-full-'));
const cli = (...args: string[]) => execFileSync('node', ['bin/aya-playground.js', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Runs the CLI with `args` (MNT standing for the small disk) on a tmpfs of `kib` KiB that exists
 * only for this call; `before` prepares the disk, `after` runs once the CLI has ended. Returns the
 * CLI's exit code and stderr, and every file left on the disk with its SHA-256.
 */
function onFullDisk(kib: number, args: string[], before = '', after = ''): { code: number; stderr: string; dirs: string[]; files: Record<string, string> } {
  const mnt = join(dir, `disk-${kib}k-${Math.random().toString(36).slice(2)}`);
  mkdirSync(mnt);
  const cmd = ['node', 'bin/aya-playground.js', ...args.map((a) => a.replaceAll('MNT', mnt))].map(q).join(' ');
  const script = [
    `mount -t tmpfs -o size=${kib}k tmpfs ${q(mnt)} || exit 90`,
    before.replaceAll('MNT', q(mnt)),
    `${cmd}; code=$?`,
    after.replaceAll('MNT', q(mnt)),
    `echo "code=$code"`,
    `cd ${q(mnt)} && find . -mindepth 1 -type d | sort | sed 's/^/dir /'`,
    `find . -type f | sort | while read -r f; do echo "file $(sha256sum "$f")"; done`,
  ].join('\n');
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script], { encoding: 'utf8' });
  // The namespace (a precondition of this test) must be there: no code line means it was not.
  const code = /^code=(\d+)$/m.exec(r.stdout);
  if (!code) throw new Error(`could not mount a small tmpfs in a private namespace (unshare exit ${r.status}): ${r.stderr}${r.error ?? ''}`);
  const files: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^file ([0-9a-f]{64}) {2}\.\/(.+)$/gm)) files[m[2]] = m[1];
  const dirs = [...r.stdout.matchAll(/^dir \.\/(.+)$/gm)].map((m) => m[1]);
  return { code: Number(code[1]), stderr: r.stderr, dirs, files };
}

const train = ['--langs', 'fra', '--steps', '4', '--batch', '2', '--seq', '16', '--seed', '3', '--eval-every', '0', '--checkpoint-every', '1'];
const CHECKPOINT = ['config.json', 'model.safetensors', 'optimizer.safetensors', 'playground.json', 'tokenizer.json', 'tokenizer_config.json', 'trainer_state.json'];

describe('a full disk under the CLI', () => {
  beforeAll(() => {
    cli('create', '--out', join(dir, 'a'), '--size', 'tiny', '--seed', '4');
    cli('create', '--out', join(dir, 'b'), '--size', 'tiny', '--seed', '5');
    writeFileSync(join(dir, 'merge.yml'), `merge_method: linear\nmodels:\n  - model: ${join(dir, 'a')}\n    parameters: {weight: 0.5}\n  - model: ${join(dir, 'b')}\n    parameters: {weight: 0.5}\ndtype: float32\n`);
  }, 120_000);

  it('train: the disk fills at the step-2 checkpoint; step 1 is kept whole and resumes to the weights of a run that never stopped', () => {
    cli('train', '--model', join(dir, 'a'), '--out', join(dir, 'straight'), ...train);
    // 8 MiB holds one checkpoint (~5 MB) but not a second one's temp files beside it.
    const copy = join(dir, 'rescued');
    const r = onFullDisk(8192, ['train', '--model', join(dir, 'a'), '--out', 'MNT/run', ...train], '', `cp -r MNT/run ${q(copy)}`);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/aya-playground train: could not write the model to .*\/run: ENOSPC: no space left on device/);
    expect(r.stderr).toMatch(/The checkpoint at step 1 in .*\/run is kept; continue it with: aya-playground train --resume .*\/run\n/);
    // Only the checkpoint's own files: no temp file of the failed write.
    expect(r.dirs).toEqual(['run']);
    expect(Object.keys(r.files)).toEqual(CHECKPOINT.map((f) => `run/${f}`));
    expect(JSON.parse(readFileSync(join(copy, 'trainer_state.json'), 'utf8')).step).toBe(1);

    // Somewhere with room, the kept checkpoint finishes the run: the same weights, bit for bit.
    const lines = cli('train', '--resume', copy, '--json').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'step').map((l) => l.point.step)).toEqual([2, 3, 4]);
    expect(sha(readFileSync(join(copy, 'model.safetensors')))).toBe(sha(readFileSync(join(dir, 'straight', 'model.safetensors'))));
  }, 600_000);

  it('train: a disk too small for the first save leaves no folder behind, and says nothing was kept', () => {
    const r = onFullDisk(1024, ['train', '--model', join(dir, 'a'), '--out', 'MNT/new/run', ...train]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/ENOSPC: no space left on device.*\. No checkpoint had been saved\.\n/);
    expect(r.dirs).toEqual([]);
    expect(r.files).toEqual({});
  }, 300_000);

  it('merge: a new output folder is not left behind; an existing one keeps exactly its files', () => {
    const fresh = onFullDisk(1024, ['merge', '--config', join(dir, 'merge.yml'), '--out', 'MNT/merged']);
    expect(fresh.code, fresh.stderr).toBe(1);
    expect(fresh.stderr).toMatch(/^aya-playground merge: could not write model\.safetensors into .*\/merged: ENOSPC: no space left on device, write \(the folder is left as it was\)$/m);
    expect(fresh.dirs).toEqual([]);
    expect(fresh.files).toEqual({});

    const kept = onFullDisk(1024, ['merge', '--config', join(dir, 'merge.yml'), '--out', 'MNT/earlier'], 'mkdir MNT/earlier && echo "an earlier merge" > MNT/earlier/notes.txt');
    expect(kept.code, kept.stderr).toBe(1);
    expect(kept.stderr).toMatch(/ENOSPC: no space left on device/);
    expect(kept.dirs).toEqual(['earlier']);
    expect(kept.files).toEqual({ 'earlier/notes.txt': sha(new TextEncoder().encode('an earlier merge\n')) });
  }, 300_000);

  it('a read-only disk: train and merge are refused before any work, naming the folder; nothing on it changes', () => {
    const readOnly = 'mkdir MNT/earlier && echo "an earlier merge" > MNT/earlier/notes.txt && mount -o remount,ro MNT || exit 91';
    const notes = { 'earlier/notes.txt': sha(new TextEncoder().encode('an earlier merge\n')) };
    const t = onFullDisk(1024, ['train', '--model', join(dir, 'a'), '--out', 'MNT/earlier/run', ...train], readOnly);
    expect(t.code, t.stderr).toBe(1);
    expect(t.stderr).toMatch(/^aya-playground train: --out: cannot write to '.*\/earlier' \(read-only or not yours\)$/m);
    expect(t.stderr).not.toMatch(/step 1/);
    expect(t.files).toEqual(notes);
    const m = onFullDisk(1024, ['merge', '--config', join(dir, 'merge.yml'), '--out', 'MNT/earlier'], readOnly);
    expect(m.code, m.stderr).toBe(1);
    expect(m.stderr).toMatch(/^aya-playground merge: --out: cannot write to '.*\/earlier' \(read-only or not yours\)$/m);
    expect(m.files).toEqual(notes);
    expect(m.dirs).toEqual(['earlier']);
  }, 300_000);
});
