/**
 * remove-node.yml's roles (Kubespray's remove-node/pre-remove and post-remove), for the hosts
 * `-e node=…` names (topology.leaving):
 * - `pre-remove`, on the control-plane and etcd hosts that stay: the first control-plane host
 *   cordons and drains each leaving node through kubectl (a node that is not Ready is not drained:
 *   its pods go with its Node object); the first etcd host that stays removes the leaving etcd
 *   members, refusing when the members that stay would have no quorum.
 * - `post-remove`, on the control-plane hosts that stay, after the leaving hosts were reset: the
 *   first one deletes their Node objects (after the reset, so no kubelet registers them again).
 * The routes to the leaving nodes' pod CIDRs go when the `cni` role runs on the nodes that stay
 * (the topology leaves the leaving nodes out).
 */
import { HostStepError } from '../../engine/errors.js';
import type { ClusterRole, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import type { ExecResult, RemoteHost } from '../../ssh/types.js';
import { execKubectl, outcome, outputTail, verifyPaths, type VerifyPaths } from '../verify/tools.js';
import { removeEtcdMembers } from './etcd-member.js';
import { evictablePods, parseNode } from './node-objects.js';

const KUBECTL_TIMEOUT_MS = 60_000;

// The API may not answer for a few seconds while etcd's membership changes (an election when the
// removed member led): such failures are retried, bounded.
const TRANSIENT = /Unable to connect to the server|deadline exceeded|connection refused|etcdserver|the server is currently unable|Timeout/i;
const TRANSIENT_WAIT_MS = 30_000;
const TRANSIENT_RETRY_MS = 2_000;

async function kubectl(host: RemoteHost, paths: VerifyPaths, args: readonly string[], timeoutMs = KUBECTL_TIMEOUT_MS): Promise<ExecResult> {
  const until = Date.now() + TRANSIENT_WAIT_MS;
  for (;;) {
    const r = await execKubectl(host, paths, args, { timeoutMs });
    if (r.code === 0 || !TRANSIENT.test(`${r.stderr}${r.stdout}`) || Date.now() + TRANSIENT_RETRY_MS > until) return r;
    await new Promise((resolve) => setTimeout(resolve, TRANSIENT_RETRY_MS));
  }
}

async function readNode(host: RemoteHost, paths: VerifyPaths, name: string) {
  const r = await kubectl(host, paths, ['get', 'node', name, '-o', 'json', '--ignore-not-found']);
  if (r.code !== 0) throw new HostStepError(host.name, `reading node ${name}: kubectl get ${outcome(r)}`, outputTail(r));
  return parseNode(r.stdout);
}

/** `360s` → ms, for the bound on kubectl drain's own process. */
const durationMs = (d: string) => {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d)!;
  return Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
};

function drainTask(ctx: ClusterTaskContext, name: string, paths: VerifyPaths): ClusterTask {
  const vars = ctx.run.inventory.hostVars(ctx.host.name);
  return {
    name: `${name} cordoned and drained`,
    async check(host, tctx) {
      const node = await readNode(host, paths, name);
      if (!node) return [];
      if (!node.ready) {
        // A dead kubelet never confirms an eviction: draining would only wait drain_timeout.
        tctx.warn(`${name} is not Ready: not drained; its pods are removed with its Node object`);
        return node.unschedulable ? [] : [{ kind: 'custom', summary: `cordon ${name}` }];
      }
      const pods = await kubectl(host, paths, ['get', 'pods', '--all-namespaces', '--field-selector', `spec.nodeName=${name}`, '-o', 'json']);
      if (pods.code !== 0) throw new HostStepError(host.name, `listing ${name}'s pods: kubectl get ${outcome(pods)}`, outputTail(pods));
      const evict = evictablePods(pods.stdout);
      if (node.unschedulable && evict.length === 0) return [];
      return [{ kind: 'custom', summary: evict.length > 0 ? `drain ${name}: evict ${evict.join(', ')}` : `cordon ${name}` }];
    },
    async apply(host) {
      const node = await readNode(host, paths, name);
      if (node && !node.ready) {
        const r = await kubectl(host, paths, ['cordon', name]);
        if (r.code !== 0) throw new HostStepError(host.name, `cordoning ${name}: kubectl cordon ${outcome(r)}`, outputTail(r));
        return;
      }
      const args = ['drain', name, '--force', '--ignore-daemonsets', '--delete-local-data', `--grace-period=${vars.drain_grace_period}`, `--timeout=${vars.drain_timeout}`];
      const r = await kubectl(host, paths, args, durationMs(vars.drain_timeout) + 30_000);
      if (r.code !== 0) throw new HostStepError(host.name, `draining ${name}: kubectl drain ${outcome(r)}`, outputTail(r, 12), `raise drain_timeout (${vars.drain_timeout}) or look at the pods that did not stop: kubectl get pods -o wide --all-namespaces --field-selector spec.nodeName=${name}`);
    },
  };
}

function deleteNodeTask(name: string, paths: VerifyPaths): ClusterTask {
  return {
    name: `Node ${name} deleted from the cluster`,
    async check(host) {
      return (await readNode(host, paths, name)) ? [{ kind: 'custom', summary: `delete Node ${name}` }] : [];
    },
    async apply(host) {
      const r = await kubectl(host, paths, ['delete', 'node', name, '--ignore-not-found']);
      if (r.code !== 0) throw new HostStepError(host.name, `deleting node ${name}: kubectl delete ${outcome(r)}`, outputTail(r));
    },
  };
}

/** The first control-plane host of the play, which talks to the API for the play. */
function apiDriver(ctx: ClusterTaskContext): VerifyPaths | undefined {
  const inPlay = new Set(ctx.playHosts.map((h) => h.name));
  const driver = ctx.run.topology.controlPlane.find((h) => inPlay.has(h.name));
  return driver?.name === ctx.host.name ? verifyPaths(ctx.run.topology, driver) : undefined;
}

function leavingNodes(ctx: ClusterTaskContext): string[] {
  return ctx.run.topology.leaving.filter((h) => h.isNode).map((h) => h.name);
}

export const preRemoveRole: ClusterRole = {
  name: 'pre-remove',
  tags: ['pre-remove'],
  tasks(ctx) {
    const tasks: ClusterTask[] = [];
    const { etcd, leaving } = ctx.run.topology;
    const leavingMembers = etcd.filter((m) => leaving.includes(m.host));
    const staying = etcd.filter((m) => !leaving.includes(m.host));
    const inPlay = new Set(ctx.playHosts.map((h) => h.name));
    const etcdDriver = staying.find((m) => inPlay.has(m.host.name));
    // The quorum check first: a refusal drains nothing (on a host that does both).
    if (leavingMembers.length > 0 && etcdDriver?.host.name === ctx.host.name) tasks.push(removeEtcdMembers(ctx, leavingMembers, staying));
    const paths = apiDriver(ctx);
    if (paths) tasks.push(...leavingNodes(ctx).map((name) => drainTask(ctx, name, paths)));
    return tasks;
  },
};

export const postRemoveRole: ClusterRole = {
  name: 'post-remove',
  tags: ['post-remove'],
  tasks(ctx) {
    const paths = apiDriver(ctx);
    return paths ? leavingNodes(ctx).map((name) => deleteNodeTask(name, paths)) : [];
  },
};
