/**
 * What entering a lab's network namespace costs a command: with a lab inventory kprov runs the
 * command again inside the lab namespace (src/cli/lab-fast-path.ts), so the same command on the
 * same hosts is measured with the lab inventory and with a copy of it that is no lab (no
 * lab.json), N rounds interleaved so both see the same machine load. The command is
 * `kprov apply cluster --list-hosts` (loads the inventory and plans, contacts no host), next to
 * `kprov --version` (Node's start and nothing else). Needs root (it boots a 3-host lab).
 *
 *   npm run build && node dist/bench/lab-reexec.js [--runs 15]
 *
 * Prints per command the median and range of wall time and of CPU (the process and its
 * children, as /usr/bin/time reports it), and the median difference lab − plain.
 */
import { spawnSync } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/paths.js';
import { fmtSeconds, median, withBenchLab } from './lab-child.js';
import { machineDescription } from './machine.js';

// The idle-lab benchmark's name: the two never run at the same time.
const NAME = 'bench-idle';
const HOSTS = 3;
const bin = path.join(packageRoot, 'bin', 'kprov.js');

interface Sample {
  wallMs: number;
  cpuMs: number;
}

/** One command in a fresh process from the root namespace, as a user starts it. */
function once(args: readonly string[]): Sample {
  const started = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, bin, ...args], { encoding: 'utf8', timeout: 60_000 });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`kprov ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const [user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallMs, cpuMs: ((user ?? 0) + (sys ?? 0)) * 1000 };
}

const range = (xs: readonly number[]) => `${fmtSeconds(Math.min(...xs))}–${fmtSeconds(Math.max(...xs))}`;

function row(label: string, samples: readonly Sample[]): string {
  const wall = samples.map((s) => s.wallMs);
  const cpu = samples.map((s) => s.cpuMs);
  return `| ${label} | ${fmtSeconds(median(wall))} | ${range(wall)} | ${fmtSeconds(median(cpu))} |`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
  const runs = Number(values.runs);
  await withBenchLab(NAME, HOSTS, async (labInventory) => {
    const plainInventory = `${labInventory}-plain`;
    await cp(labInventory, plainInventory, { recursive: true });
    await rm(path.join(plainInventory, 'lab.json'));
    const commands: [string, string[]][] = [
      ['`kprov --version`', ['--version']],
      ['`kprov apply cluster --list-hosts`, plain inventory', ['apply', 'cluster', '--list-hosts', '-i', plainInventory]],
      ['`kprov apply cluster --list-hosts`, lab inventory', ['apply', 'cluster', '--list-hosts', '-i', labInventory]],
    ];
    // The same hosts either way: only the namespace differs.
    const listed = commands.slice(1).map(([, args]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' }).stdout);
    if (listed[0] !== listed[1]) throw new Error(`the two inventories list different hosts:\n${listed[0]}\n${listed[1]}`);
    for (const [, args] of commands) once(args); // the page cache
    console.log(await machineDescription());
    const samples = commands.map((): Sample[] => []);
    for (let i = 0; i < runs; i++) commands.forEach(([, args], c) => samples[c]!.push(once(args)));
    console.log(`\n| command | wall, median of ${runs} | range | CPU, median |`);
    console.log('|---|---:|---|---:|');
    commands.forEach(([label], c) => console.log(row(label, samples[c]!)));
    const plain = samples[1]!;
    const lab = samples[2]!;
    // Paired by round: each difference is between two runs next to each other in time.
    const extraWall = lab.map((s, i) => s.wallMs - plain[i]!.wallMs);
    const extraCpu = lab.map((s, i) => s.cpuMs - plain[i]!.cpuMs);
    console.log(
      `\nentering the lab namespace: +${fmtSeconds(median(extraWall))} wall (target ≤ 0.1 s), +${fmtSeconds(median(extraCpu))} CPU, ` +
        `median of ${runs} paired rounds; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    );
  });
}

await main();
