/**
 * Benchmarks measure from inside a lab's network namespace, where its hosts are reachable: the
 * bench script re-runs itself there as a child that prints one JSON line, its sample.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { labDown } from '../src/lab/down.js';
import { labUp } from '../src/lab/up.js';
import { labNamespace } from '../src/lab/names.js';

export interface ChildSample {
  /** Wall time of the child process, start to exit, as seen by the parent. */
  processMs: number;
}

/** Runs `script --child ...args` under `ip netns exec` for lab `lab`; bounded to 120 s. */
export function runLabChild<T>(lab: string, script: string, args: readonly string[]): Promise<T & ChildSample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const p = spawn('ip', ['netns', 'exec', labNamespace(lab), process.execPath, script, '--child', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      const processMs = performance.now() - started;
      try {
        resolve({ ...(JSON.parse(out.trim().split('\n').pop() ?? '') as T), processMs });
      } catch {
        reject(new Error(`benchmark child exited ${code}: ${out}`));
      }
    });
  });
}

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const fmtSeconds = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;

export interface SizedBenchOptions {
  runs: number;
  sizes: number[];
  largest: number;
}

/** `--runs N --sizes 1,5,20`, shared by the lab benchmarks. */
export function sizedBenchOptions(defaultRuns: number): SizedBenchOptions {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: String(defaultRuns) }, sizes: { type: 'string', default: '1,5,20' } },
  });
  const sizes = values.sizes.split(',').map(Number);
  return { runs: Number(values.runs), sizes, largest: Math.max(...sizes) };
}

/** Boots lab `lab` with `hosts` hosts and a temporary inventory, runs `fn`, and always tears both down. */
export async function withBenchLab(lab: string, hosts: number, fn: (inventoryDir: string) => Promise<void>): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), `kprov-bench-${lab}-`));
  const inventoryDir = path.join(work, 'inventory');
  try {
    await labDown(lab).catch(() => undefined);
    const up = await labUp({ name: lab, hosts, inventoryDir });
    console.log(`lab: ${up.hosts.length} hosts up in ${fmtSeconds(up.timings.totalMs)}`);
    await fn(inventoryDir);
  } finally {
    await labDown(lab).catch((err: unknown) => console.error(`lab down: ${(err as Error).message}`));
    await rm(work, { recursive: true, force: true });
  }
}
