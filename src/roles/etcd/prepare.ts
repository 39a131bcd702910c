/**
 * What the etcd and control-plane roles check and do once per run on the control host, before
 * either touches a host. `validateClusterRoles` (every play, before any host is contacted):
 * refuse deployment modes kprov does not have yet; render and flag-check every etcd and
 * control-plane unit of the cluster, so a wrong template fails naming template and flag.
 * `prepareClusterRoles` (the play's prepare): issue the PKI; download and verify the binaries.
 */
import { ensureArtifacts } from '../../cluster/artifacts.js';
import { ensureClusterPki, pkiInputFromTopology, reportPkiWarnings } from '../../cluster/pki.js';
import { topologyOf } from '../../cluster/shared.js';
import { planCertificates } from '../../pki/index.js';
import { renderControlPlaneUnits } from '../control-plane/units.js';
import { requireHostMode } from '../preinstall/deployment-mode.js';
import type { PlayContext, SharedValues, TemplateRenderer } from '../types.js';
import { etcdTlsFiles, renderEtcdFiles } from './config.js';

declare module '../types.js' {
  interface SharedValues {
    /** Set once the cluster's etcd and control-plane units rendered and passed the flag check. */
    clusterUnitsChecked?: boolean;
  }
}

/** Renders every etcd and control-plane unit of the cluster and checks their flags (pure). */
export function checkClusterUnits(shared: SharedValues, render: TemplateRenderer): void {
  const topology = topologyOf(shared);
  const plan = planCertificates(pkiInputFromTopology(topology));
  const ctx = { render, shared };
  for (const member of topology.etcd) {
    renderEtcdFiles(ctx, member, etcdTlsFiles(plan, member.host.name), { state: 'new', initialCluster: topology.etcdInitialCluster });
  }
  for (const host of topology.controlPlane) renderControlPlaneUnits(ctx, topology, host, plan);
}

/** The validate step of the etcd and control-plane roles (the unit check runs once per run). */
export function validateClusterRoles(ctx: PlayContext): void {
  requireHostMode(ctx.shared);
  if (!ctx.shared.clusterUnitsChecked) {
    checkClusterUnits(ctx.shared, ctx.render);
    ctx.shared.clusterUnitsChecked = true;
  }
}

/** The prepare step of the etcd and control-plane roles. */
export async function prepareClusterRoles(ctx: PlayContext): Promise<void> {
  const pki = await ensureClusterPki(ctx.shared, { dryRun: ctx.dryRun });
  reportPkiWarnings(pki, (m) => ctx.warn(m));
  await ensureArtifacts(ctx.shared);
}
