/**
 * The `static-pod-kubelet` role (cluster.yml, before etcd and the control plane): with
 * control_plane_deployment_type or etcd_deployment_type static_pod, the kubelet must run on those
 * hosts before the control plane or etcd does, since it is what runs them. It installs and starts the kubelet there, up
 * to the kubelet's own healthz (the API is not up yet: the kubelet registers once it is). On every
 * other host, and in host mode, it has nothing to do; the node play later finds the kubelet done.
 */
import type { ClusterRole, ClusterRun } from '../../cluster/run.js';
import type { ClusterHost } from '../../cluster/topology.js';
import { DOWNLOAD_TAG } from '../../cluster/artifact-binaries.js';
import { kubeletTasks, renderNodeFiles, RESTART_KUBELET, restartKubelet } from './index.js';

/** The host runs static pods of the control plane or etcd, so its kubelet must come first. */
export function runsStaticControlPlane(run: ClusterRun, host: ClusterHost | undefined): boolean {
  const { control_plane_deployment_type: cp, etcd_deployment_type: etcd } = run.inventory.cluster;
  return host !== undefined && ((cp === 'static_pod' && host.isControlPlane) || (etcd === 'static_pod' && host.isEtcd && host.isNode));
}

export const staticPodKubeletRole: ClusterRole = {
  name: 'static-pod-kubelet',
  tags: ['node', 'kubelet'],
  taskTags: [DOWNLOAD_TAG],
  handlers: [restartKubelet],
  async tasks(ctx) {
    const host = ctx.run.topology.hosts.find((h) => h.name === ctx.host.name);
    if (!runsStaticControlPlane(ctx.run, host)) return [];
    // kube-proxy's files come too (the node role's PKI step); it starts later, in the node play.
    const kubelet = await kubeletTasks(ctx, renderNodeFiles(ctx, ctx.host.name), { notify: (f) => (f.readers.includes('kubelet') ? [RESTART_KUBELET] : []) });
    return [...kubelet.files, kubelet.start, kubelet.healthy];
  },
};
