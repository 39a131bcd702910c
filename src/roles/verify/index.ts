/**
 * The `verify` role, last play of cluster.yml (hosts k8s_cluster:etcd): proves the cluster works
 * rather than trusting that the units started. Per host, only what concerns that host:
 *   - etcd members: `etcdctl endpoint health` with the health-check client certificate;
 *   - control-plane hosts: their API server's /healthz at the advertised address, CA-verified;
 *   - the first control-plane host of the play: component statuses (scheduler,
 *     controller-manager, every etcd member) and no registered node unknown to the inventory;
 *   - nodes: registered under their inventory name and Ready;
 *   - every host: no handler left pending by an interrupted run (a service on old files).
 * Verifying changes nothing: every task reports ok or fails with the failing unit's status and
 * journal. In a plan, hosts that earlier plays would change are not probed (there is nothing to
 * verify yet); otherwise the plan looks once and warns about what is unhealthy.
 */
import type { ClusterRole, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import { apiserverHealthy, componentsHealthy, etcdMemberHealthy, nodeReady, nodesMatchInventory, offerApiView } from './checks.js';
import { servicesRunCurrentFiles } from './pending.js';
import { verifyPaths } from './tools.js';

function notice(name: string, message: string): ClusterTask {
  return {
    name,
    async check(_host, ctx) {
      ctx.warn(message);
      return [];
    },
    async apply() {
      // check never reports changes.
    },
  };
}

export function verifyTasks(ctx: ClusterTaskContext): ClusterTask[] {
  const topology = ctx.run.topology;
  const self = topology.hosts.find((h) => h.name === ctx.host.name);
  if (!self) return [];
  if (ctx.dryRun && ctx.state.changedPaths.length > 0) {
    return [notice('verify after apply', `not verified in a plan: earlier plays would change ${ctx.state.changedPaths.length} file(s) on this host first`)];
  }
  const inPlay = new Set(ctx.playHosts.map((h) => h.name));
  const observer = topology.controlPlane.find((h) => inPlay.has(h.name));
  const isObserver = observer?.name === self.name;
  const member = topology.etcd.find((m) => m.host.name === self.name);
  const isNode = topology.nodes.some((n) => n.host.name === self.name);

  const paths = verifyPaths(topology, self);
  const tasks: ClusterTask[] = [];
  if (isObserver) tasks.push(offerApiView(paths));
  if (member) tasks.push(etcdMemberHealthy(paths, member));
  if (self.isControlPlane) tasks.push(apiserverHealthy(self, paths));
  if (isObserver) tasks.push(componentsHealthy(self, paths, topology));
  if (isNode) {
    tasks.push(
      observer
        ? nodeReady(self, observer.name)
        : notice(`node ${self.name} Ready`, 'node readiness not verified: no control-plane host is in this run to ask the API server (see --limit)'),
    );
  }
  if (isObserver) tasks.push(nodesMatchInventory(paths, topology));
  tasks.push(servicesRunCurrentFiles());
  return tasks;
}

export const verifyRole: ClusterRole = {
  name: 'verify',
  tags: ['verify'],
  tasks: verifyTasks,
};
