/**
 * kprov's fixed cost: wall time and CPU of small commands, each a fresh process as a user runs
 * it (`kprov --version`, `kprov inventory show`, `kprov inventory check`, `kprov --help`, and
 * `kprov apply cluster --list-hosts`, which loads apply's whole graph and plans without a host).
 *   node dist/bench/startup.js [--runs 10] [--compare-modules]
 * Prints the median and range per command, with the machine and its load. --compare-modules also
 * runs each command from the unbundled modules (dist/src/cli/main.js), rounds interleaved.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initInventory } from '../src/inventory/scaffold.js';
import { packageRoot } from '../src/paths.js';
import { machineDescription } from './machine.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10;
const COMPARE = process.argv.includes('--compare-modules');
const bin = path.join(packageRoot, 'bin', 'kprov.js');
/** What bin/kprov.js did before the bundle: the CLI from its compiled modules. */
const fromModules = [
  '--input-type=module',
  '-e',
  `const { main } = await import(${JSON.stringify(path.join(packageRoot, 'dist', 'src', 'cli', 'main.js'))}); process.exitCode = await main(process.argv.slice(1));`,
  '--',
];

interface Sample {
  wallMs: number;
  cpuMs: number;
}

/** One run in a fresh process; CPU from the child's rusage as /usr/bin/time reports it. */
function once(args: string[], launcher: readonly string[] = [bin]): Sample {
  const started = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, ...launcher, ...args], { encoding: 'utf8' });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`kprov ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const [user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallMs, cpuMs: ((user ?? 0) + (sys ?? 0)) * 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await mkdtemp(path.join(tmpdir(), 'kprov-bench-startup-'));
try {
  const inventory = path.join(dir, 'inventory');
  await initInventory(inventory, { hosts: '10.0.0.11,10.0.0.12,10.0.0.13,10.0.0.14,10.0.0.15' });
  const commands: [string, string[]][] = [
    ['kprov --version', ['--version']],
    ['kprov --help', ['--help']],
    ['kprov inventory show', ['inventory', 'show', '-i', inventory]],
    ['kprov inventory check', ['inventory', 'check', '-i', inventory]],
    ['kprov apply cluster --list-hosts', ['apply', 'cluster', '--list-hosts', '-i', inventory]],
  ];
  const row = (label: string, samples: Sample[], suffix = '') => {
    const wall = samples.map((s) => s.wallMs);
    return `| \`${label}\`${suffix} | ${(median(wall) / 1000).toFixed(2)} s | ${(Math.min(...wall) / 1000).toFixed(2)}–${(Math.max(...wall) / 1000).toFixed(2)} s | ${(median(samples.map((s) => s.cpuMs)) / 1000).toFixed(2)} s |`;
  };
  console.log(await machineDescription());
  console.log(`| command | wall, median of ${RUNS} | range | CPU, median |`);
  console.log('|---|---:|---|---:|');
  for (const [label, args] of commands) {
    // Warm the page cache.
    once(args);
    if (COMPARE) once(args, fromModules);
    const bundled: Sample[] = [];
    const modules: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      bundled.push(once(args));
      if (COMPARE) modules.push(once(args, fromModules));
    }
    console.log(row(label, bundled));
    if (COMPARE) console.log(row(label, modules, ' from the modules'));
  }
  console.log(await machineDescription());
} finally {
  await rm(dir, { recursive: true, force: true });
}
