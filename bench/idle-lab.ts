/**
 * What an idle cluster costs the machine: a 5-host lab (node1–3 control plane + etcd, node4–5
 * workers) serving the stand-in v1.13 release gets `kprov apply cluster`, is left to settle,
 * and then every process of the lab is measured over a window: the hosts' processes through
 * each host's own cpuacct cgroup (src/lab/cgroups.ts; it counts processes that exit within the
 * window too), the lab's artifact mirror and image registry by PID. Needs root.
 *
 *   npm run build && node dist/bench/idle-lab.js [--settle 30] [--window 60]
 *
 * Prints the total as % of one core (target ≤ 10 %) and a breakdown by component (the program
 * a process runs: etcd, kube-apiserver, kubelet, containerd, sshd, systemd-journald, …), from
 * /proc/PID/stat sampled every second. The lab is taken down (lab down, by the PIDs its state
 * records) at the end, on failure and on SIGINT/SIGTERM.
 *
 * kprov runs with an artifact cache of the benchmark's own: the cache answers a URL it has seen
 * without asking the mirror, and every lab's mirror has the same URL, so the shared cache would
 * install whatever stand-ins it first stored instead of the ones this tree builds.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startClusterLab, type ClusterLab } from '../dev/cluster-lab.js';
import { readLabState } from '../src/lab/state.js';
import { machineDescription } from './machine.js';

const NAME = 'bench-idle';
const HOSTS = 5;
/** USER_HZ: /proc/PID/stat counts clock ticks of 1/100 s on Linux. */
const TICKS_PER_SECOND = 100;

interface ProcSample {
  component: string;
  host: string;
  /** utime + stime, in ticks. */
  ticks: number;
  /** Start time after boot, in ticks. */
  started: number;
}

/** One process's name, CPU and start from /proc; undefined when it is gone. */
async function procSample(pid: number, host: string): Promise<ProcSample | undefined> {
  try {
    const [stat, cmdline] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/cmdline`, 'utf8')]);
    // The command name is in parentheses and may hold spaces: the fields follow its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    return { component: componentOf(comm, cmdline.split('\0')), host, ticks: Number(fields[11]) + Number(fields[12]), started: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/** The program: a node script (the stand-ins, the mirror) by its script's name, else by its own. */
function componentOf(comm: string, argv: string[]): string {
  const [exe, script] = argv;
  const base = exe ? path.basename(exe) : comm;
  if ((base === 'node' || base === 'nodejs') && script && !script.startsWith('-')) return `${path.basename(script)} (node)`;
  if (base === 'systemd-nspawn' || comm === 'systemd-nspawn') return 'systemd-nspawn';
  // sshd and systemd name themselves in argv ("sshd: root@notty", "/sbin/init"): the comm is clearer.
  return comm;
}

/** Every PID in a cgroup directory and the ones below it. */
async function cgroupPids(dir: string): Promise<number[]> {
  const text = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  const pids = text.split('\n').filter(Boolean).map(Number);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) pids.push(...(await cgroupPids(path.join(dir, e.name))));
  return pids;
}

interface Where {
  /** Each host's cpuacct cgroup. */
  hosts: { name: string; cgroup: string }[];
  /** The mirror's and the registry's PIDs (in the lab namespace, outside the hosts' cgroups). */
  labProcesses: number[];
}

async function locate(): Promise<Where> {
  const state = await readLabState(NAME);
  if (!state) throw new Error(`lab ${NAME} has no state`);
  const hosts = state.hosts.map((h) => {
    const cgroup = h.cgroups.find((c) => c.split('/').includes('cpuacct') || /\/cpu,cpuacct\//.test(c));
    if (!cgroup) throw new Error(`${h.name}: no cpuacct cgroup among ${h.cgroups.join(', ')}`);
    return { name: h.name, cgroup };
  });
  const labProcesses = [state.mirror?.process?.pid, state.registry?.process?.pid].filter((p): p is number => p !== undefined);
  return { hosts, labProcesses };
}

/** CPU of each host's cgroup in ns (cpuacct.usage, exited processes included). */
async function cgroupUsage(where: Where): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const h of where.hosts) out.set(h.name, Number((await readFile(path.join(h.cgroup, 'cpuacct.usage'), 'utf8')).trim()));
  return out;
}

async function scan(where: Where): Promise<Map<string, ProcSample>> {
  const out = new Map<string, ProcSample>();
  const add = async (pid: number, host: string) => {
    const s = await procSample(pid, host);
    if (s) out.set(`${pid}@${s.started}`, s);
  };
  for (const h of where.hosts) for (const pid of await cgroupPids(h.cgroup)) await add(pid, h.name);
  for (const pid of where.labProcesses) await add(pid, 'lab namespace');
  return out;
}

async function uptimeTicks(): Promise<number> {
  return Math.floor(Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]) * TICKS_PER_SECOND);
}

interface Measurement {
  windowS: number;
  /** CPU seconds per host cgroup, and of the lab namespace's processes. */
  perHost: Map<string, number>;
  /** CPU seconds per component (from /proc samples), with the process count. */
  perComponent: Map<string, { seconds: number; processes: number }>;
}

async function measure(windowS: number): Promise<Measurement> {
  const where = await locate();
  const startTicks = await uptimeTicks();
  const usage0 = await cgroupUsage(where);
  const first = await scan(where);
  const last = new Map(first);
  const t0 = performance.now();
  // Sampled every second, so a process that lives within the window is counted too (all but its last second).
  while (performance.now() - t0 < windowS * 1000) {
    await sleep(1000);
    for (const [key, s] of await scan(where)) last.set(key, s);
  }
  const usage1 = await cgroupUsage(where);
  const elapsedS = (performance.now() - t0) / 1000;

  const perComponent = new Map<string, { seconds: number; processes: number }>();
  const perHostFromProc = new Map<string, number>();
  for (const [key, s] of last) {
    const base = first.get(key)?.ticks ?? (s.started >= startTicks ? 0 : s.ticks);
    const seconds = (s.ticks - base) / TICKS_PER_SECOND;
    const c = perComponent.get(s.component) ?? { seconds: 0, processes: 0 };
    perComponent.set(s.component, { seconds: c.seconds + seconds, processes: c.processes + 1 });
    perHostFromProc.set(s.host, (perHostFromProc.get(s.host) ?? 0) + seconds);
  }
  const perHost = new Map<string, number>();
  for (const [host, ns] of usage1) perHost.set(host, (ns - (usage0.get(host) ?? ns)) / 1e9);
  perHost.set('lab namespace', perHostFromProc.get('lab namespace') ?? 0);
  // What the samples missed (processes shorter than a second, last seconds of exited ones).
  const sampled = [...perHostFromProc].filter(([h]) => h !== 'lab namespace').reduce((a, [, s]) => a + s, 0);
  const cgroupTotal = [...perHost].filter(([h]) => h !== 'lab namespace').reduce((a, [, s]) => a + s, 0);
  if (cgroupTotal - sampled > 0.005) perComponent.set('(short-lived, not sampled)', { seconds: cgroupTotal - sampled, processes: 0 });
  return { windowS: elapsedS, perHost, perComponent };
}

const pct = (seconds: number, windowS: number) => `${((seconds / windowS) * 100).toFixed(2)} %`;

function report(m: Measurement): void {
  const total = [...m.perHost.values()].reduce((a, b) => a + b, 0);
  console.log(`\nidle lab, ${m.windowS.toFixed(0)} s window: ${pct(total, m.windowS)} of one core in total (target ≤ 10 %)`);
  console.log('\n| component | % of one core | processes |');
  console.log('|---|---:|---:|');
  for (const [name, c] of [...m.perComponent].sort((a, b) => b[1].seconds - a[1].seconds)) {
    if (c.seconds < 0.005 * m.windowS / 100 && c.processes > 0) continue;
    console.log(`| ${name} | ${pct(c.seconds, m.windowS)} | ${c.processes || ''} |`);
  }
  console.log('\n| host | % of one core |');
  console.log('|---|---:|');
  for (const [host, s] of m.perHost) console.log(`| ${host} | ${pct(s, m.windowS)} |`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { settle: { type: 'string', default: '30' }, window: { type: 'string', default: '60' } } });
  let lab: ClusterLab | undefined;
  const cache = await mkdtemp(path.join(tmpdir(), 'kprov-bench-idle-cache-'));
  const stop = async () => {
    await lab?.stop().catch((err: unknown) => console.error(`lab down: ${(err as Error).message}`));
    await rm(cache, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stop().finally(() => process.exit(130)));
  try {
    lab = await startClusterLab({ name: NAME, hosts: HOSTS });
    const started = performance.now();
    const apply = await lab.kprov(['apply', 'cluster', '-i', lab.inventoryDir], { timeoutMs: 900_000, env: { ...process.env, XDG_CACHE_HOME: cache } });
    if (apply.code !== 0) throw new Error(`kprov apply cluster exited ${apply.code}:\n${apply.stdout.slice(-3000)}\n${apply.stderr.slice(-2000)}`);
    console.log(`apply: ${((performance.now() - started) / 1000).toFixed(1)} s; settling ${values.settle} s`);
    await sleep(Number(values.settle) * 1000);
    console.log(`before the window: ${await machineDescription()}`);
    const m = await measure(Number(values.window));
    report(m);
    console.log(`\nafter the window: load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await stop();
  }
}

await main();
