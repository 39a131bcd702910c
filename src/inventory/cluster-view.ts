/**
 * The cluster-wide view of the variables: Kubespray effectively reads cluster settings from the
 * first control-plane host, so kprov does too, and insists that every host that uses a
 * cluster-wide setting sees the same value (a host_vars override of kube_version would otherwise
 * silently build a mixed cluster).
 */
import { KprovError } from '../errors.js';
import type { VarDef } from './evaluator.js';
import type { Hierarchy } from './hierarchy.js';
import { GROUP } from './model.js';
import { CLUSTER_WIDE, clusterVarsSchema, type AgreementScope, type ClusterVars, type HostVars } from './schema.js';
import { describeOrigin, showValue } from './validate.js';

export interface ClusterViewInput {
  hierarchy: Hierarchy;
  hostVars: ReadonlyMap<string, HostVars>;
  defs: ReadonlyMap<string, ReadonlyMap<string, VarDef>>;
  inventoryDir: string;
}

/** JSON with sorted keys, so equal mappings compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function scopeHosts(hierarchy: Hierarchy, scope: AgreementScope): string[] {
  switch (scope) {
    case 'k8s_cluster':
      return hierarchy.membersInOrder(GROUP.k8sCluster);
    case 'etcd':
      return hierarchy.membersInOrder(GROUP.etcd);
    case 'control_plane':
      return hierarchy.membersInOrder(GROUP.controlPlane);
    case 'cluster': {
      const all = new Set([...hierarchy.membersInOrder(GROUP.k8sCluster), ...hierarchy.membersInOrder(GROUP.etcd)]);
      return hierarchy.hosts.filter((h) => all.has(h));
    }
  }
}

/**
 * Checks that cluster-wide variables agree across the hosts that use them and returns the
 * cluster view. Assumes at least one control-plane host (checked before).
 */
export function clusterView(input: ClusterViewInput): ClusterVars {
  const { hierarchy, hostVars, defs, inventoryDir } = input;
  const firstControlPlane = hierarchy.membersInOrder(GROUP.controlPlane)[0] ?? hierarchy.hosts[0]!;
  const view: Record<string, unknown> = { ...hostVars.get(firstControlPlane)! };
  for (const [key, scope] of Object.entries(CLUSTER_WIDE) as [keyof HostVars, AgreementScope][]) {
    const hosts = scopeHosts(hierarchy, scope);
    if (hosts.length === 0) continue;
    const reference = hosts.includes(firstControlPlane) ? firstControlPlane : hosts[0]!;
    const expected = hostVars.get(reference)![key];
    const expectedJson = canonicalJson(expected);
    for (const host of hosts) {
      const value = hostVars.get(host)![key];
      if (canonicalJson(value) === expectedJson) continue;
      const refDef = defs.get(reference)?.get(key);
      const hostDef = defs.get(host)?.get(key);
      const location = hostDef?.location ?? refDef?.location;
      throw new KprovError(
        'inventory',
        `${key} differs between hosts: ${reference} has ${showValue(expected)} (${describeOrigin(refDef, inventoryDir)}), ` +
          `${host} has ${showValue(value)} (${describeOrigin(hostDef, inventoryDir)})`,
        {
          ...(location ? { location } : {}),
          hint: `a cluster-wide variable needs one value on every ${scope === 'cluster' ? 'k8s_cluster and etcd' : scope} host; set it in group_vars/all/ or group_vars/${scope === 'etcd' ? 'etcd' : 'k8s_cluster'}/`,
        },
      );
    }
    if (expected === undefined) delete view[key];
    else view[key] = expected;
  }
  const cluster: Record<string, unknown> = {};
  for (const key of Object.keys(clusterVarsSchema.shape)) if (view[key] !== undefined) cluster[key] = view[key];
  // Every value crossed its schema in parseHostVars(); this only narrows the object to the cluster keys.
  return cluster as ClusterVars;
}
