/**
 * The `check` role (playbooks/check.yml, `kprov apply check`): pods run on every node and reach
 * each other across nodes. The first control-plane host of the play drives the check through its
 * kubectl (cluster-check.ts); every node's task waits for that report and passes or fails on its
 * own host, showing what explains a failure there: its routes, its CNI config and containerd's
 * journal. Changes nothing that stays: the pods it creates are deleted before it ends. In a plan
 * it only says what it would do.
 */
import { HostStepError } from '../../engine/errors.js';
import { unitDiagnostics } from '../../engine/tasks/index.js';
import { waitUntil, WaitTimeoutError } from '../../engine/wait.js';
import { perRun, type ClusterRole, type ClusterRun, type ClusterTask, type ClusterTaskContext } from '../../cluster/run.js';
import type { RemoteHost } from '../../ssh/types.js';
import { CNI_CONF_DIR } from '../runtime/containerd.js';
import { verifyPaths } from '../verify/tools.js';
import { runClusterCheck, type CheckReport, type CheckedNode, type ServiceCheck } from './cluster-check.js';

interface Slot {
  driver?: string;
  report?: Promise<CheckReport>;
}

const slotOf = perRun((): Slot => ({}));

// Nodes wait this long for the driving host to start the check before failing on their own.
const DRIVER_START_WAIT_MS = 60_000;

/** The driving host's report, once it has started the check (bounded: it may have failed first). */
async function reportFor(run: ClusterRun, timeoutMs: number): Promise<CheckReport | undefined> {
  return waitUntil(async () => slotOf(run).report, { what: 'the check to start', timeoutMs, intervalMs: 100 }).catch((err: unknown) => {
    if (err instanceof WaitTimeoutError) return undefined;
    throw err;
  });
}

/** What explains a pod network problem on this host: its routes, its CNI config, containerd. */
async function networkDiagnostics(host: RemoteHost, cniConfDir: string): Promise<string[]> {
  const out: string[] = [];
  const show = async (title: string, argv: string[]) => {
    const r = await host.exec(argv, { timeoutMs: 10_000 });
    out.push(`${title}:`, ...`${r.stdout}${r.stderr}`.trim().split('\n').slice(-20).map((l) => `  ${l}`));
  };
  await show('ip route', ['ip', 'route', 'show']);
  await show(`CNI config (${cniConfDir})`, ['sh', '-c', `for f in ${cniConfDir}/*; do echo "# $f"; cat "$f"; done`]);
  out.push('containerd:', ...(await unitDiagnostics(host, 'containerd')).map((l) => `  ${l}`));
  return out;
}

function driveTask(nodes: readonly CheckedNode[]): ClusterTask {
  return {
    name: `pods on ${nodes.length} node(s) start and reach each other`,
    async check(host, ctx) {
      if (ctx.dryRun) {
        ctx.warn('not run in a plan: the check creates pods (and deletes them again)');
        return [];
      }
      const vars = ctx.run.inventory.hostVars(host.name);
      const self = ctx.run.topology.hosts.find((h) => h.name === host.name)!;
      const slot = slotOf(ctx.run);
      const services: ServiceCheck = vars.dns_mode === 'coredns' ? { dns: { name: `kubernetes.default.svc.${vars.dns_domain}`, address: vars.kube_apiserver_ip } } : {};
      slot.report = runClusterCheck({ host, paths: verifyPaths(ctx.run.topology, self), nodes, services, image: vars.check_image, timeoutMs: vars.check_timeout * 1000, render: ctx.render });
      const report = await slot.report;
      if (report.problems.length > 0) throw new HostStepError(host.name, report.problems[0]!, report.problems.slice(1));
      return [];
    },
    async apply() {
      // check never reports changes.
    },
  };
}

function nodeTask(node: CheckedNode, driver: string | undefined, dns: boolean): ClusterTask {
  return {
    name: `a pod on ${node.name} runs in ${node.podCidr}, reaches the other nodes' pods and a Service${dns ? ', resolves names through the cluster DNS' : ''}`,
    async check(host, ctx) {
      if (ctx.dryRun) return [];
      if (!driver) throw new HostStepError(host.name, 'not checked: no control-plane host is in this run to create the pods (see --limit)', []);
      const report = await reportFor(ctx.run, DRIVER_START_WAIT_MS);
      if (!report) throw new HostStepError(host.name, `not checked: ${driver} did not start the check (see its own result)`, []);
      const outcome = (await report).byNode.get(node.name);
      if (!outcome) throw new HostStepError(host.name, `not checked: ${driver}'s check did not include ${node.name}`, []);
      const failures = [...outcome.problems, ...outcome.unreachable];
      if (failures.length === 0) return [];
      throw new HostStepError(
        host.name,
        outcome.unreachable.length > 0 ? `pods cannot talk: ${outcome.unreachable.join('; ')}` : failures[0]!,
        [...failures.slice(outcome.unreachable.length > 0 ? outcome.unreachable.length : 1), ...(await networkDiagnostics(host, CNI_CONF_DIR))],
        'compare the routes to the other nodes\' pod CIDRs (kprov apply cluster --tags network restores them)',
      );
    },
    async apply() {
      // check never reports changes.
    },
  };
}

export function checkTasks(ctx: ClusterTaskContext): ClusterTask[] {
  const topology = ctx.run.topology;
  const inPlay = new Set(ctx.playHosts.map((h) => h.name));
  const nodes: CheckedNode[] = topology.nodes.filter((n) => inPlay.has(n.host.name)).map((n) => ({ name: n.host.name, podCidr: n.podCidr, ip: n.host.ip }));
  const driver = topology.controlPlane.find((h) => inPlay.has(h.name))?.name;
  const tasks: ClusterTask[] = [];
  if (driver === ctx.host.name) tasks.push(driveTask(nodes));
  const self = nodes.find((n) => n.name === ctx.host.name);
  if (self) tasks.push(nodeTask(self, driver, ctx.run.inventory.hostVars(ctx.host.name).dns_mode === 'coredns'));
  return tasks;
}

export const checkRole: ClusterRole = {
  name: 'check',
  tags: ['check'],
  tasks: checkTasks,
};
