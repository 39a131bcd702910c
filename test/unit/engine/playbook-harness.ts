/**
 * Shared setup for engine tests: small inventories, fake roles, and a one-call way to run a
 * playbook (given as YAML text) against a FakeFleet while capturing every event.
 */
import type { RunEvent, RunEventType } from '../../../src/engine/events.js';
import { executePlan, type Clock, type RunResult } from '../../../src/engine/executor.js';
import { planRun } from '../../../src/engine/run-plan.js';
import { parsePlaybook } from '../../../src/engine/playbook.js';
import { RoleRegistry } from '../../../src/engine/role-registry.js';
import { KprovError } from '../../../src/errors.js';
import type { InventoryHost } from '../../../src/inventory/model.js';
import type { Change, HostFacts, InventoryView, Role, Task, TemplateRenderer } from '../../../src/engine/contract.js';
import type { RemoteHost } from '../../../src/ssh/types.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { answerReadAhead } from './fake-read-ahead.js';

/** Hosts node1…nodeN; groups name their members; `all` is added. */
export function makeInventory(hostNames: readonly string[], groups: Record<string, readonly string[]> = {}, dir = '/nonexistent/inventory'): InventoryView {
  const allGroups: Record<string, string[]> = { all: [...hostNames] };
  for (const [g, members] of Object.entries(groups)) allGroups[g] = [...members];
  const hosts: InventoryHost[] = hostNames.map((name, i) => ({
    name,
    address: `10.99.0.${i + 1}`,
    ip: `10.99.0.${i + 1}`,
    groups: Object.entries(allGroups)
      .filter(([, m]) => m.includes(name))
      .map(([g]) => g)
      .sort(),
    vars: { role_hint: `${name}-vars` },
  }));
  return { dir, hosts, groups: allGroups };
}

export const hostNames = (n: number, prefix = 'node'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

/** A cluster-shaped inventory: 3 control-plane+etcd hosts and `workers` workers. */
export function clusterInventory(workers = 2, dir?: string): InventoryView {
  const cp = ['node1', 'node2', 'node3'];
  const all = hostNames(3 + workers);
  return makeInventory(
    all,
    { kube_control_plane: cp, etcd: cp, kube_node: all, k8s_cluster: all, calico_rr: [] },
    dir,
  );
}

export interface RunOutcome {
  result: RunResult;
  events: RunEvent[];
  of<T extends RunEventType>(type: T): Extract<RunEvent, { type: T }>[];
}

export interface RunSetup {
  inventory: InventoryView;
  roles: readonly Role[];
  fleet: FakeFleet;
  dryRun?: boolean;
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  concurrency?: number;
  gatherFacts?: (host: RemoteHost) => Promise<HostFacts>;
  render?: TemplateRenderer;
  /** The run context roles see as ctx.run (a ClusterRun for cluster roles). */
  run?: unknown;
  clock?: Clock;
  runId?: string;
  signal?: AbortSignal;
  graceMs?: number;
}

export async function runYaml(yaml: string, setup: RunSetup): Promise<RunOutcome> {
  const events: RunEvent[] = [];
  const result = await execute(yaml, setup, events);
  return { result, events, of: filterEvents(events) };
}

/** Runs a playbook the engine must refuse as bad input (a role's validate) before contacting any host. */
export async function runYamlRefused(yaml: string, setup: RunSetup): Promise<{ error: KprovError; events: RunEvent[]; of: RunOutcome['of'] }> {
  const events: RunEvent[] = [];
  try {
    await execute(yaml, setup, events);
  } catch (err) {
    if (!(err instanceof KprovError)) throw err;
    return { error: err, events, of: filterEvents(events) };
  }
  throw new Error('the run was not refused');
}

function filterEvents(events: RunEvent[]): RunOutcome['of'] {
  return <T extends RunEventType>(type: T) => events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type);
}

async function execute(yaml: string, setup: RunSetup, events: RunEvent[]): Promise<RunResult> {
  const playbook = parsePlaybook(yaml, 'test.yml');
  const plan = planRun(playbook, setup.inventory, new RoleRegistry(setup.roles), {
    limit: setup.limit,
    tags: setup.tags ?? [],
    skipTags: setup.skipTags ?? [],
  });
  answerReadAhead(setup.fleet);
  return executePlan(plan, {
    dryRun: setup.dryRun ?? false,
    ...(setup.concurrency !== undefined ? { concurrency: setup.concurrency } : {}),
    connector: { connect: setup.fleet.connect },
    emit: (e) => events.push(e),
    gatherFacts: setup.gatherFacts ?? fakeFacts,
    ...(setup.render ? { render: setup.render } : {}),
    run: setup.run,
    ...(setup.clock ? { clock: setup.clock } : {}),
    ...(setup.runId ? { runId: setup.runId } : {}),
    ...(setup.signal ? { signal: setup.signal } : {}),
    ...(setup.graceMs !== undefined ? { graceMs: setup.graceMs } : {}),
  });
}

export async function fakeFacts(host: RemoteHost): Promise<HostFacts> {
  await host.exec(['true']);
  return {
    hostname: host.name,
    os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    arch: 'x86_64',
    kernel: '6.1.0',
    cpus: 2,
    memoryMb: 2048,
    swapMb: 0,
    systemdVersion: 252,
    defaultIPv4: '10.99.0.1',
  };
}

/** A task whose desired state is a marker file: changed until applied once, then converged. */
export function convergingTask(name: string, opts: { tags?: string[]; notify?: string[]; delayMs?: number } = {}): Task {
  const marker = `/var/lib/fake/${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return {
    name,
    ...(opts.tags ? { tags: opts.tags } : {}),
    ...(opts.notify ? { notify: opts.notify } : {}),
    async check(host) {
      const present = (await host.sha256(marker)) !== undefined;
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      return present ? [] : [{ kind: 'custom', summary: `create ${marker}`, path: marker }];
    },
    async apply(host) {
      await host.writeFile(marker, 'done\n', { mode: 0o644 });
    },
  };
}

/** A role from a function of the host name (so tasks can differ per host). */
export function role(name: string, tasks: (host: string) => Task[], extra: Partial<Role> = {}): Role {
  return { name, tasks: (ctx) => tasks(ctx.host.name), ...extra };
}

/** A task that runs `argv` with run() on the given hosts (the test scripts its failure). */
export function commandTask(name: string, onHosts: readonly string[], argv: readonly string[]): Task {
  return {
    name,
    async check(host) {
      if (onHosts.includes(host.name)) await host.run(argv);
      return [];
    },
    async apply() {},
  };
}

export const noChange = (): Change[] => [];
