/**
 * kprov against Ansible on the same job: etcd on 3 lab hosts, as kprov's etcd role does it (the
 * binaries, the member's certificates from kprov's PKI, data directory, environment file, systemd
 * unit, start, health check with etcdctl over TLS). Each round, both tools in turn (the order
 * alternates between rounds): a fresh run on hosts whose etcd state was wiped, then a no-op re-run.
 *   - kprov: `kprov apply cluster --tags etcd`, started from the root namespace as a user starts it
 *     (it enters the lab namespace itself);
 *   - Ansible: Debian's ansible-core running bench/ansible-setup.ts's playbook under `ip netns exec`
 *     in the lab namespace, with the lab hosts' addresses only, the cluster key and kprov's pinned
 *     host keys; python3 is put on the hosts for it first (kprov needs none).
 * Needs root; installs ansible-core with apt when missing.
 *
 *   npm run build && node dist/bench/ansible-peer.js [--rounds 5]
 *
 * Prints every run, the medians and the ratios Ansible / kprov (targets: ≥ 10× no-op, ≥ 3× fresh).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runCommand, type CommandResult } from '../dev/run-command.js';
import { kprovBin } from '../dev/lab-hosts.js';
import { startClusterLab, type ClusterLab } from '../dev/cluster-lab.js';
import { DEFAULT_CACHE_DIR } from '../dev/release/debs.js';
import type { RunEvent } from '../src/engine/events.js';
import { ensureAnsible, ensurePythonOnHosts, writeAnsibleProject, type AnsibleProject } from './ansible-setup.js';
import { fmtSeconds, median } from './lab-child.js';
import { machineDescription } from './machine.js';

// bench-ansible would be 13 characters; lab names have at most 12.
const NAME = 'bench-ansibl';
const HOSTS = 3;
const RUN_TIMEOUT_MS = 600_000;

/** Everything either tool puts on a host for etcd (and kprov's owed-restart records of it). */
const WIPE = [
  'systemctl stop etcd.service 2>/dev/null',
  'systemctl disable etcd.service 2>/dev/null',
  'rm -rf /var/lib/etcd /etc/etcd.env /etc/systemd/system/etcd.service /usr/local/bin/etcd /usr/local/bin/etcdctl /etc/ssl/etcd /var/lib/kprov/pending/restart%20etcd',
  'systemctl daemon-reload',
  'systemctl reset-failed etcd.service 2>/dev/null',
  'true',
].join('; ');

type Tool = 'kprov' | 'ansible';
type Kind = 'fresh' | 'no-op';

interface Sample {
  tool: Tool;
  kind: Kind;
  ms: number;
  changed: number;
}

/** Tasks changed, from kprov's JSON events. */
function kprovChanged(stdout: string): number {
  const events = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as RunEvent);
  const finish = events.find((e): e is Extract<RunEvent, { type: 'run:finish' }> => e.type === 'run:finish');
  if (!finish) throw new Error('kprov printed no run:finish');
  return finish.recap.reduce((a, r) => a + r.changed, 0);
}

/** Tasks changed, from Ansible's PLAY RECAP. */
function ansibleChanged(stdout: string): number {
  return [...stdout.matchAll(/^\S+\s+:\s+ok=\d+\s+changed=(\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

function check(what: string, r: CommandResult): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
}

/** Kills the OpenSSH ControlPersist masters Ansible left, by PID (found by their control path). */
async function stopControlMasters(controlDir: string): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('ssh') && cmdline.includes(controlDir)) {
      try {
        process.kill(Number(pid), 'SIGTERM');
      } catch {
        // Gone meanwhile.
      }
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
  const rounds = Number(values.rounds);
  ensureAnsible();
  const work = await mkdtemp(path.join(tmpdir(), 'kprov-bench-ansible-'));
  // An artifact cache of the benchmark's own (see bench/idle-lab.ts for why).
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: path.join(work, 'cache') };
  let lab: ClusterLab | undefined;
  let project: AnsibleProject | undefined;
  const cleanup = async () => {
    if (project) await stopControlMasters(project.controlDir);
    await lab?.stop().catch((err: unknown) => console.error(`lab down: ${(err as Error).message}`));
    await rm(work, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));
  try {
    lab = await startClusterLab({ name: NAME, hosts: HOSTS });
    const inv = lab.inventoryDir;
    const kprov = (args: string[]) => runCommand([process.execPath, kprovBin, ...args, '-i', inv], { env, timeoutMs: RUN_TIMEOUT_MS });
    // Inside the lab namespace, where the lab's mirror listens (kprov download enters it by itself too).
    check('kprov download', await lab.kprov(['download', '-i', inv], { env, timeoutMs: RUN_TIMEOUT_MS }));
    // The cluster key authorized and host keys pinned: both tools log in with them.
    check('kprov apply cluster --tags ssh-keys', await kprov(['apply', 'cluster', '--tags', 'ssh-keys']));
    await ensurePythonOnHosts(lab, process.env['KPROV_LAB_CACHE'] ?? DEFAULT_CACHE_DIR);
    project = await writeAnsibleProject(lab, path.join(work, 'ansible'), env);
    const p = project;

    const wipe = async () => {
      for (const h of lab!.hosts) check(`wipe ${h.name}`, await lab!.exec(h.name, ['sh', '-c', WIPE], { timeoutMs: 60_000 }));
    };
    const runOnce = async (tool: Tool, kind: Kind): Promise<Sample> => {
      const started = performance.now();
      const r =
        tool === 'kprov'
          ? await kprov(['apply', 'cluster', '--tags', 'etcd', '--json'])
          : await runCommand(['ip', 'netns', 'exec', lab!.namespace, ...p.argv], { env: p.env, cwd: p.dir, timeoutMs: RUN_TIMEOUT_MS });
      const ms = performance.now() - started;
      check(`${tool} ${kind}`, r);
      const changed = tool === 'kprov' ? kprovChanged(r.stdout) : ansibleChanged(r.stdout);
      if (kind === 'no-op' && changed !== 0) throw new Error(`${tool} no-op changed ${changed} tasks:\n${r.stdout.slice(-3000)}`);
      if (kind === 'fresh' && changed === 0) throw new Error(`${tool} fresh changed nothing:\n${r.stdout.slice(-3000)}`);
      return { tool, kind, ms, changed };
    };

    console.log(`machine: ${await machineDescription()}`);
    // One unmeasured round each: Ansible's first run opens its ControlPersist connections.
    for (const tool of ['kprov', 'ansible'] as const) {
      await wipe();
      await runOnce(tool, 'fresh');
    }
    const samples: Sample[] = [];
    console.log('\n| round | tool | fresh | changed | no-op | changed | load average |');
    console.log('|---:|---|---:|---:|---:|---:|---|');
    for (let round = 1; round <= rounds; round++) {
      const order: Tool[] = round % 2 === 1 ? ['kprov', 'ansible'] : ['ansible', 'kprov'];
      for (const tool of order) {
        await wipe();
        const fresh = await runOnce(tool, 'fresh');
        const noop = await runOnce(tool, 'no-op');
        samples.push(fresh, noop);
        console.log(
          `| ${round} | ${tool} | ${fmtSeconds(fresh.ms)} | ${fresh.changed} | ${fmtSeconds(noop.ms)} | ${noop.changed} | ${loadavg().map((l) => l.toFixed(2)).join(' ')} |`,
        );
      }
    }
    const med = (tool: Tool, kind: Kind) => median(samples.filter((s) => s.tool === tool && s.kind === kind).map((s) => s.ms));
    console.log(`\nmedians of ${rounds} rounds:`);
    for (const kind of ['fresh', 'no-op'] as const) {
      const k = med('kprov', kind);
      const a = med('ansible', kind);
      const target = kind === 'fresh' ? 3 : 10;
      console.log(`  ${kind}: kprov ${fmtSeconds(k)}, Ansible ${fmtSeconds(a)}: kprov ${(a / k).toFixed(1)}× faster (target ≥ ${target}×)`);
    }
    console.log(`machine: ${await machineDescription()}`);
  } finally {
    await cleanup();
  }
}

await main();
