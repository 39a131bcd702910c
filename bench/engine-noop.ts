/**
 * Engine overhead: a no-op play on 1, 5 and 20 in-memory hosts (dev/fake-fleet.ts), so
 * what is measured is the executor, events and renderers, not SSH. Each task's check is one
 * remote call answered after a simulated round trip; nothing changes, as on a re-apply.
 *
 *   npm run build && node dist/bench/engine-noop.js [--rtt-ms 1] [--tasks 1,50] [--runs 7]
 *
 * Prints one line per case: median wall time, the part that is not simulated round trips
 * (engine overhead), connects per host (must be 1), events emitted, and peak RSS.
 */
import { parseArgs } from 'node:util';
import { executePlan } from '../src/engine/executor.js';
import { planRun } from '../src/engine/run-plan.js';
import { parsePlaybook } from '../src/engine/playbook.js';
import { plainRenderer } from '../src/engine/render/plain.js';
import { RoleRegistry } from '../src/engine/role-registry.js';
import type { InventoryHost } from '../src/inventory/model.js';
import type { InventoryView, Role, Task } from '../src/engine/contract.js';
import { FakeFleet } from '../dev/fake-fleet.js';

const { values } = parseArgs({
  options: {
    'rtt-ms': { type: 'string', default: '1' },
    tasks: { type: 'string', default: '1,50' },
    runs: { type: 'string', default: '7' },
  },
});
const rttMs = Number(values['rtt-ms']);
const taskCounts = values.tasks.split(',').map(Number);
const runs = Number(values.runs);

function inventory(n: number): InventoryView {
  const names = Array.from({ length: n }, (_, i) => `node${i + 1}`);
  const hosts: InventoryHost[] = names.map((name, i) => ({ name, address: `10.99.0.${i + 1}`, groups: ['all'], vars: {} }));
  return { dir: '/nonexistent', hosts, groups: { all: names } };
}

/** Desired state already reached: one read-only remote call, no change. */
function noopTask(i: number): Task {
  return {
    name: `noop ${i}`,
    async check(host) {
      await host.exec(['true']);
      return [];
    },
    async apply() {},
  };
}

async function once(hostCount: number, taskCount: number) {
  const inv = inventory(hostCount);
  const role: Role = { name: 'noop', tasks: () => Array.from({ length: taskCount }, (_, i) => noopTask(i)) };
  const playbook = parsePlaybook('- name: noop\n  hosts: all\n  roles: [noop]\n', 'bench.yml');
  const plan = planRun(playbook, inv, new RoleRegistry([role]));
  const fleet = new FakeFleet(inv.hosts.map((h) => h.name));
  for (const m of fleet.machines.values()) m.latencyMs = rttMs;
  // What a real run does with every event: serialise it (run log) and render it (plain lines).
  let bytes = 0;
  let events = 0;
  const renderer = plainRenderer((line) => (bytes += line.length));
  const started = performance.now();
  const result = await executePlan(plan, {
    dryRun: false,
    run: undefined,
    connector: { connect: fleet.connect },
    emit: (e) => {
      events += 1;
      bytes += JSON.stringify(e).length;
      renderer.sink(e);
    },
  });
  const wallMs = performance.now() - started;
  if (result.status !== 'ok') throw new Error('the no-op play failed');
  const connects = [...fleet.connects.values()];
  return { wallMs, events, maxConnects: Math.max(...connects), bytes };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`engine no-op benchmark: simulated round trip ${rttMs} ms, median of ${runs} runs, node ${process.version}`);
console.log('hosts  tasks/host  wall ms  overhead ms  connects/host  events  peak RSS MB');
const results: Record<string, number> = {};
for (const taskCount of taskCounts) {
  for (const hostCount of [1, 5, 20]) {
    await once(hostCount, taskCount); // warm-up (JIT, module loading)
    const samples = [];
    for (let i = 0; i < runs; i++) samples.push(await once(hostCount, taskCount));
    const wall = median(samples.map((s) => s.wallMs));
    // Hosts run in parallel and each task is one round trip, so the floor is tasks × rtt.
    const floor = taskCount * rttMs;
    const rssMb = process.resourceUsage().maxRSS / 1024;
    results[`${hostCount}x${taskCount}`] = wall;
    console.log(
      `${String(hostCount).padStart(5)}  ${String(taskCount).padStart(10)}  ${wall.toFixed(1).padStart(7)}  ${Math.max(0, wall - floor).toFixed(1).padStart(11)}  ${String(samples[0]!.maxConnects).padStart(13)}  ${String(samples[0]!.events).padStart(6)}  ${rssMb.toFixed(0).padStart(11)}`,
    );
  }
}
for (const taskCount of taskCounts) {
  const ratio = results[`20x${taskCount}`]! / results[`5x${taskCount}`]!;
  console.log(`20-host / 5-host wall time with ${taskCount} task(s) per host: ${ratio.toFixed(2)}× (target ≤ 2×)`);
}
