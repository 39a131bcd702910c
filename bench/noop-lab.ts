/**
 * A no-op play on 1, 5 and 20 lab hosts through the real engine and SSH connector: what a
 * re-apply costs when nothing differs. Boots a 20-host lab, runs key distribution (ssh-keys) and
 * a role whose one task puts a small file in place, once; then each measured run is a fresh
 * process inside the lab namespace that plays the same role on the first N hosts: one key login
 * per host, one `file` check (stat + sha256 in one command), nothing changed. Needs root.
 *
 *   npm run build && node dist/bench/noop-lab.js [--runs 7] [--sizes 1,5,20]
 *
 * Per size: the play's wall time (connect, check, close; median and best), the whole process
 * (Node start, module loading, inventory, play) as a user of `kprov apply` would wait for it,
 * SSH handshakes per host (must be 1), tasks changed (must be 0) and the process's peak RSS.
 */
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { executePlan } from '../src/engine/executor.js';
import { planRun } from '../src/engine/run-plan.js';
import { parsePlaybook } from '../src/engine/playbook.js';
import { plainRenderer } from '../src/engine/render/plain.js';
import { RoleRegistry } from '../src/engine/role-registry.js';
import { file } from '../src/engine/tasks/index.js';
import { loadInventory } from '../src/inventory/load.js';
import { fmtSeconds, median, runLabChild, sizedBenchOptions, withBenchLab, type ChildSample } from './lab-child.js';
import { sshKeysRole } from '../src/roles/ssh-keys/index.js';
import type { Role } from '../src/engine/contract.js';
import { assertInLabNamespaceIfLab } from '../src/lab/netns.js';
import { createConnector } from '../src/ssh/connector.js';
import { busyCores, machineCpu, machineDescription } from './machine.js';

const NAME = 'bench-noop';
const self = fileURLToPath(import.meta.url);

/** The desired state every measured run finds already true. */
const noopRole: Role = {
  name: 'bench-noop',
  tasks: () => [file({ path: '/var/lib/kprov-bench/noop.txt', content: 'kprov no-op benchmark\n', mode: 0o644 })],
};

const SETUP_PLAYBOOK = `
- name: keys
  hosts: all
  roles: [ssh-keys]
- name: setup
  hosts: all
  roles: [bench-noop]
`;
const NOOP_PLAYBOOK = `
- name: no-op
  hosts: all
  roles: [bench-noop]
`;

interface Sample {
  hosts: number;
  playMs: number;
  /** CPU time (user + system) this process spent during the play. */
  playCpuMs: number;
  /** Cores busy on the whole machine during the play (sshd on the hosts included), from /proc/stat. */
  machineBusyCores: number;
  handshakes: number[];
  changed: number;
  failed: string[];
  events: number;
  peakRssMb: number;
  /** Measured by the parent: spawn to exit of the whole child process. */
  processMs?: number;
}

/** In the lab namespace: one run of the playbook over the inventory's first `hosts` hosts. */
async function child(mode: 'setup' | 'noop', inventoryDir: string, hosts: number): Promise<void> {
  const inventory = await loadInventory(inventoryDir);
  const chosen = inventory.hosts.slice(0, hosts);
  const names = chosen.map((h) => h.name);
  const view = { dir: inventory.dir, hosts: chosen, groups: { all: names } };
  const playbook = parsePlaybook(mode === 'setup' ? SETUP_PLAYBOOK : NOOP_PLAYBOOK, 'bench-noop.yml');
  const plan = planRun(playbook, view, new RoleRegistry([sshKeysRole, noopRole]));
  const connector = createConnector(view, { env: {}, networkGuard: assertInLabNamespaceIfLab });
  // What a real run does with every event: serialise it (run log) and render it (plain lines).
  let events = 0;
  let bytes = 0;
  const renderer = plainRenderer((line) => (bytes += line.length));
  const failed: string[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const busy0 = await machineCpu();
  const result = await executePlan(plan, {
    dryRun: false,
    run: undefined,
    connector: { connect: (h) => connector.connect(h.name), closeAll: () => connector.closeAll() },
    emit: (e) => {
      events += 1;
      bytes += JSON.stringify(e).length;
      renderer.sink(e);
      if (e.type === 'host:finish' && e.status === 'failed') failed.push(`${e.host}: ${e.error?.message ?? e.step ?? 'failed'}`);
      if (e.type === 'host:finish' && e.status === 'unreachable') failed.push(`${e.host}: unreachable: ${e.error?.message ?? ''}`);
    },
  });
  const playMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const busy1 = await machineCpu();
  await renderer.done();
  const stats = connector.stats().handshakes;
  const sample: Sample = {
    hosts,
    playMs,
    playCpuMs: (cpu.user + cpu.system) / 1000,
    machineBusyCores: busyCores(busy0, busy1),
    handshakes: names.map((n) => stats[n] ?? 0),
    changed: result.recap.reduce((a, r) => a + r.changed, 0),
    failed,
    events,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

function runChild(mode: 'setup' | 'noop', inventoryDir: string, hosts: number): Promise<Sample & ChildSample> {
  return runLabChild<Sample>(NAME, self, [mode, inventoryDir, String(hosts)]);
}

const fmt = fmtSeconds;

async function main(): Promise<void> {
  const { runs, sizes, largest } = sizedBenchOptions(7);
  await withBenchLab(NAME, largest, async (inventoryDir) => {
    const setup = await runChild('setup', inventoryDir, largest);
    if (setup.failed.length > 0) throw new Error(`setup failed: ${setup.failed.join('; ')}`);
    console.log(
      `setup on ${largest} hosts (password login, cluster key authorized, key login proven, file written): ` +
        `${fmt(setup.playMs)}, ${setup.changed} tasks changed, handshakes/host ${Math.min(...setup.handshakes)}–${Math.max(...setup.handshakes)}`,
    );
    console.log(`machine: ${await machineDescription()}`);
    console.log(`\n${runs} runs per size, each a fresh process in the lab namespace; load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log('\n| hosts | no-op play (connect + check + close), median (best) | kprov CPU in the play | machine cores busy in the play | whole process, median | handshakes/host | changed | events | peak RSS |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    const medians = new Map<number, number>();
    for (const n of sizes) {
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i++) samples.push(await runChild('noop', inventoryDir, n));
      const failed = samples.flatMap((s) => s.failed);
      if (failed.length > 0) throw new Error(`hosts failed: ${failed.join('; ')}`);
      const play = samples.map((s) => s.playMs);
      const hs = samples.flatMap((s) => s.handshakes);
      const changed = Math.max(...samples.map((s) => s.changed));
      medians.set(n, median(play));
      console.log(
        `| ${n} | ${fmt(median(play))} (${fmt(Math.min(...play))}) | ${fmt(median(samples.map((s) => s.playCpuMs)))} | ` +
          `${median(samples.map((s) => s.machineBusyCores)).toFixed(2)} of ${cpus().length} | ` +
          `${fmt(median(samples.map((s) => s.processMs ?? 0)))} | ` +
          `${Math.min(...hs)}–${Math.max(...hs)} | ${changed} | ${samples[0]!.events} | ${median(samples.map((s) => s.peakRssMb)).toFixed(0)} MB |`,
      );
    }
    console.log(`\nload average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const five = medians.get(5);
    const twenty = medians.get(20);
    if (five !== undefined && twenty !== undefined) {
      console.log(`20-host / 5-host play time: ${(twenty / five).toFixed(2)}× (target ≤ 2×); 20-host play ${fmt(twenty)} (target ≤ 1 s)`);
    }
  });
}

const childArg = process.argv.indexOf('--child');
if (childArg >= 0) {
  const [mode, inventoryDir, hosts] = process.argv.slice(childArg + 1);
  await child(mode === 'setup' ? 'setup' : 'noop', inventoryDir!, Number(hosts));
} else {
  await main();
}
