/**
 * kprov as a user, `timeout` or a CI runner starts it: a process of its own, from the root network
 * namespace (so a lab inventory makes it re-execute itself inside the lab's namespace), whose PID
 * a test can signal. Every wait is bounded; `cleanup` kills what is left of it by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunEvent } from '../../src/engine/events.js';
import { kprovBin } from '../../dev/lab-hosts.js';

export interface KprovExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Since the process was started. */
  ms: number;
}

export interface KprovProcess {
  pid: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly started: number;
  exited: Promise<KprovExit>;
  /** The exit, or a failure after `timeoutMs`. */
  exit(timeoutMs: number): Promise<KprovExit>;
  /** Kills this process and every kprov process under it that is still there (SIGKILL, by PID). */
  cleanup(): Promise<void>;
}

export function startKprov(args: readonly string[], env: NodeJS.ProcessEnv = process.env): KprovProcess {
  const child: ChildProcess = spawn(process.execPath, [kprovBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const started = Date.now();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<KprovExit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - started })));
  const pid = child.pid!;
  return {
    pid,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    started,
    exited,
    exit: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`kprov ${args.join(' ')} did not exit within ${timeoutMs / 1000} s\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`)), timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    cleanup: async () => {
      for (const p of [...(await descendants(pid)), pid]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
    },
  };
}

/** Every process below `pid` (children first found through /proc/PID/task/TID/children). */
export async function descendants(pid: number): Promise<number[]> {
  const out: number[] = [];
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const tid of tasks) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    for (const c of text.trim().split(/\s+/).filter(Boolean).map(Number)) out.push(c, ...(await descendants(c)));
  }
  return out;
}

/** PIDs of running kprov processes (bin/kprov.js in their command line) working on `inventoryDir`. */
export async function kprovProcesses(inventoryDir: string): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const argv = cmdline.split('\0');
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (/\) Z /.test(stat)) continue;
    if (argv.some((a) => a.endsWith(path.join('bin', 'kprov.js'))) && argv.includes(inventoryDir)) out.push(Number(entry));
  }
  return out;
}

/** Polls `condition` every 100 ms for at most `timeoutMs`. */
export async function waitFor(what: string, timeoutMs: number, condition: () => Promise<boolean> | boolean): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await condition()) return Date.now() - started;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

/** The events of one run log, or of the newest one when `runId` is not given. */
export async function runLog(inventoryDir: string, runId?: string): Promise<RunEvent[]> {
  const dir = path.join(inventoryDir, 'runs');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl')).sort();
  const file = runId === undefined ? files.at(-1) : files.find((f) => f.endsWith(`-${runId}.jsonl`));
  if (file === undefined) return [];
  const text = await readFile(path.join(dir, file), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RunEvent);
}

export function jsonEvents(stdout: string): RunEvent[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as RunEvent);
}
