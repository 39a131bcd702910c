/**
 * The validate step shared by the etcd and control-plane roles (before any host is contacted):
 * the deployment modes are ones kprov has, and every etcd and control-plane file (unit or static
 * pod manifest) of the whole
 * cluster renders and passes the flag check, so a wrong template fails naming template and flag
 * in the first play that lists either role, before ssh-keys or preflight touch a host. Rendered
 * once per run however many plays list the roles.
 */
import { requireSupportedModes } from '../cluster/deployment-mode.js';
import { pkiPlanOf } from '../cluster/pki.js';
import { perRun, type ClusterPlayContext } from '../cluster/run.js';
import { CONTROL_PLANE_COMPONENTS, renderControlPlaneUnits } from './control-plane/units.js';
import { renderStaticPod } from './control-plane/static-pods.js';
import { etcdTlsFiles, renderEtcdFiles } from './etcd/config.js';
import { renderEtcdStaticPod } from './etcd/static-pod.js';

const checked = perRun(() => ({ done: false }));

export function validateClusterUnits(ctx: ClusterPlayContext): void {
  requireSupportedModes(ctx.run);
  const once = checked(ctx.run);
  if (once.done) return;
  const topology = ctx.run.topology;
  const plan = pkiPlanOf(topology);
  const etcdPods = ctx.run.inventory.cluster.etcd_deployment_type === 'static_pod';
  for (const member of topology.etcd) {
    const tls = etcdTlsFiles(plan, member.host.name);
    const { env } = renderEtcdFiles(ctx, member, tls, { state: 'new', initialCluster: topology.etcdInitialCluster });
    if (etcdPods) renderEtcdStaticPod(ctx, member, env, tls);
  }
  const staticPods = ctx.run.inventory.cluster.control_plane_deployment_type === 'static_pod';
  for (const host of topology.controlPlane) {
    const units = renderControlPlaneUnits(ctx, topology, host, plan);
    if (staticPods) for (const c of CONTROL_PLANE_COMPONENTS) renderStaticPod(ctx, host, c, units[c]);
  }
  once.done = true;
}
