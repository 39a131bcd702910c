/**
 * Benchmarks measure from inside a lab's network namespace, where its hosts are reachable: the
 * bench script re-runs itself there as a child that prints one JSON line, its sample.
 */
import { spawn } from 'node:child_process';
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
