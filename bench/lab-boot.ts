/**
 * Boots labs of 1, 5 and 20 hosts and prints, for each: time to the last sshd answering (and per
 * host from container start to sshd), the whole `lab up`, `lab down`, and memory (PSS and RSS of
 * every lab process, 3 s after boot). Needs root. Run:
 *   npm run build && node dist/bench/lab-boot.js [SIZES…]     (default 1 5 20)
 */
import { readdir, readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labDown } from '../src/lab/down.js';
import { netnsPath } from '../src/lab/network.js';
import { processesInNetns } from '../src/lab/processes.js';
import { readLabState } from '../src/lab/state.js';
import { labUp } from '../src/lab/up.js';
import { ensureBaseImage } from '../src/lab/base-image.js';

const NAME = 'bench-boot';

/** Proportional (shared pages split among sharers) and resident set size of a process, in kB. */
async function memoryKb(pid: number): Promise<{ pss: number; rss: number }> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { pss: field('Pss'), rss: field('Rss') };
}

/** Every process of the lab: in its namespaces (containers, mirror) plus each nspawn. */
async function labPids(): Promise<number[]> {
  const state = await readLabState(NAME);
  if (!state) return [];
  const pids = new Set<number>();
  for (const ns of [state.namespace, ...state.hosts.map((h) => h.namespace)]) {
    for (const p of await processesInNetns(netnsPath(ns))) pids.add(p.pid);
  }
  for (const h of state.hosts) if (h.nspawn) pids.add(h.nspawn.pid);
  return [...pids];
}

function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return `min ${(at(0) / 1000).toFixed(2)} / median ${(at(0.5) / 1000).toFixed(2)} / max ${(sorted[sorted.length - 1]! / 1000).toFixed(2)} s`;
}

async function benchOne(hosts: number): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-bench-'));
  await labDown(NAME).catch(() => undefined);
  const started = Date.now();
  try {
    const up = await labUp({ name: NAME, hosts, inventoryDir: path.join(dir, 'inventory') });
    const upMs = Date.now() - started;
    // Let the hosts settle, then measure what idle hosts cost.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const pids = await labPids();
    const mem = await Promise.all(pids.map(memoryKb));
    const pss = mem.reduce((a, m) => a + m.pss, 0);
    const rss = mem.reduce((a, m) => a + m.rss, 0);
    const downStarted = Date.now();
    await labDown(NAME);
    const downMs = Date.now() - downStarted;
    return [
      `${String(hosts).padStart(2)} host(s): every sshd answering ${(up.timings.sshMs / 1000).toFixed(2)} s after creating hosts began (${(up.timings.hostsMs / 1000).toFixed(2)} s to create and start them)`,
      `  boot-to-ssh per host: ${stats(up.hosts.map((h) => h.sshMs))}`,
      `  lab up (total, incl. systemd 'running' + inventory) ${(upMs / 1000).toFixed(2)} s; lab down ${(downMs / 1000).toFixed(2)} s`,
      `  memory: ${pids.length} processes, PSS ${(pss / 1024).toFixed(0)} MiB (${(pss / 1024 / hosts).toFixed(1)} MiB/host), RSS ${(rss / 1024).toFixed(0)} MiB`,
    ].join('\n');
  } finally {
    await labDown(NAME).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number);
  const runs = sizes.length > 0 ? sizes : [1, 5, 20];
  const t = Date.now();
  await ensureBaseImage();
  console.log(`base image ready in ${((Date.now() - t) / 1000).toFixed(1)} s (cached after the first build)`);
  for (const n of runs) console.log(await benchOne(n));
  // Not part of the numbers: proof nothing is left behind.
  const left = (await readdir('/run/netns').catch(() => [] as string[])).filter((ns) => ns.startsWith(`kprov-${NAME}`));
  if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(', ')}`);
}

await main();
