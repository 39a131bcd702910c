/**
 * What the cluster roles that install components (etcd, control-plane) need ready on the control
 * host before their play touches a host: the PKI issued (its warnings shown once) and every
 * artifact downloaded and verified. Both are kept by the run, so the second role to ask waits on
 * the same work instead of repeating it.
 */
import { reportPkiWarnings } from './pki.js';
import type { ClusterPlayContext } from './run.js';

export async function prepareCluster(ctx: ClusterPlayContext): Promise<void> {
  const pki = await ctx.run.pki();
  reportPkiWarnings(pki, (m) => ctx.warn(m));
  await ctx.run.artifacts();
}
