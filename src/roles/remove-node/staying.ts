/**
 * What the hosts that stay must learn when remove-node takes a control-plane host away: the run's
 * topology has only the staying control-plane hosts (topology.ts), so the `control-plane` and
 * `node` roles, run again on the staying hosts, render
 * - the API servers' --etcd-servers (the staying members) and --apiserver-count, their serving
 *   certificate's SANs and admin.conf (the first staying control-plane host): the control-plane
 *   role's handlers restart them one host at a time, each healthy before the next;
 * - the workers' node-local API proxy without the leaving host in its upstream list (the manifest
 *   carries the configuration's sha256, so the kubelet replaces the pod), and the kubeconfigs of
 *   the nodes that reach the API without a proxy.
 * Removing workers and etcd-only hosts changes none of that (the API servers keep the
 * --etcd-servers they have until the next `kprov apply cluster`), so these roles do nothing then.
 */
import type { ClusterPlayContext, ClusterRole, ClusterRun } from '../../cluster/run.js';
import { controlPlaneRole } from '../control-plane/index.js';
import { nodeRole } from '../node/index.js';

/** A control-plane host is among those `-e node=…` names. */
export const controlPlaneLeaves = (run: ClusterRun) => run.topology.leaving.some((h) => h.isControlPlane);

function whenControlPlaneLeaves(name: string, role: ClusterRole): ClusterRole {
  return {
    ...role,
    name,
    ...(role.validate ? { validate: (ctx: ClusterPlayContext) => (controlPlaneLeaves(ctx.run) ? role.validate!(ctx) : undefined) } : {}),
    ...(role.prepare ? { prepare: async (ctx: ClusterPlayContext) => (controlPlaneLeaves(ctx.run) ? role.prepare!(ctx) : undefined) } : {}),
    tasks: (ctx) => (controlPlaneLeaves(ctx.run) ? role.tasks(ctx) : []),
  };
}

/** remove-node.yml: the control-plane role on the control-plane hosts that stay. */
export const stayingControlPlaneRole = whenControlPlaneLeaves('staying-control-plane', controlPlaneRole);

/** remove-node.yml: the node role on the nodes that stay. */
export const stayingNodesRole = whenControlPlaneLeaves('staying-nodes', nodeRole);
