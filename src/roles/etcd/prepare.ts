/**
 * Work done once per run, on the control host, before the etcd or control-plane role touches any
 * host: refuse deployment modes kprov does not have yet; render and check every etcd and
 * control-plane unit of the cluster (so a wrong template fails here, naming template and flag,
 * with no host changed); issue the PKI; download and verify the binaries.
 */
import { ensureArtifacts } from '../../cluster/artifacts.js';
import { ensureClusterPki, pkiInputFromTopology, reportPkiWarnings } from '../../cluster/pki.js';
import { topologyOf } from '../../cluster/shared.js';
import type { Topology } from '../../cluster/topology.js';
import { KprovError } from '../../errors.js';
import { planCertificates } from '../../pki/index.js';
import { renderControlPlaneUnits } from '../control-plane/units.js';
import type { PlayContext, SharedValues, TemplateRenderer } from '../types.js';
import { requireLocalDownloads } from './binaries.js';
import { etcdTlsFiles, renderEtcdFiles } from './config.js';

declare module '../types.js' {
  interface SharedValues {
    /** Set once the cluster's etcd and control-plane units rendered and passed the flag check. */
    clusterUnitsChecked?: boolean;
  }
}

/** Host mode only for now: the static-pod modes fail before anything happens. */
export function requireHostMode(topology: Topology): void {
  for (const variable of ['etcd_deployment_type', 'control_plane_deployment_type'] as const) {
    if (topology.vars[variable] !== 'host') {
      throw new KprovError('config', `${variable}: ${topology.vars[variable]} is not supported yet`, {
        hint: `set ${variable}: host (systemd units; the static-pod mode is future work)`,
      });
    }
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

/** The prepare step of the etcd and control-plane roles (the checks run once per run). */
export async function prepareClusterRoles(ctx: PlayContext): Promise<void> {
  const topology = topologyOf(ctx.shared);
  requireHostMode(topology);
  requireLocalDownloads(ctx, 'etcd and control-plane roles');
  if (!ctx.shared.clusterUnitsChecked) {
    checkClusterUnits(ctx.shared, ctx.render);
    ctx.shared.clusterUnitsChecked = true;
  }
  const pki = await ensureClusterPki(ctx.shared, { dryRun: ctx.dryRun });
  reportPkiWarnings(pki, (m) => ctx.warn(m));
  await ensureArtifacts(ctx.shared);
}
