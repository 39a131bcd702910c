/**
 * What the etcd commands share: the inventory's etcd members (all, or one named), each with its
 * SSH connection and etcdctl set up with the cluster's certificates, inside the lab's network
 * namespace for a lab inventory. Connections are closed when `use` returns.
 */
import { pkiPlanOf } from '../cluster/pki.js';
import { buildTopology, type EtcdMember, type Topology } from '../cluster/topology.js';
import { KprovError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import { assertInLabNamespaceIfLab } from '../lab/netns.js';
import { etcdTlsFiles } from '../roles/etcd/config.js';
import type { Etcdctl } from '../roles/etcd/etcdctl.js';
import { createConnector } from '../ssh/index.js';
import type { RemoteHost } from '../ssh/types.js';
import type { CliIO } from './io.js';

export interface ConnectedMember {
  member: EtcdMember;
  host: RemoteHost;
  etcdctl: Etcdctl;
}


export interface ClusterAccess {
  topology: Topology;
  /** The host's connection (opened on first use, once). */
  connect(host: string): Promise<RemoteHost>;
  /** The etcd members that connect, in inventory order (`only`: that one); `unreachable` lists the others. */
  etcdMembers(only?: string): Promise<{ members: ConnectedMember[]; unreachable: string[] }>;
}

/** The cluster of inventory `dir`, with connections to its hosts for `use`; closed after. */
export async function withCluster<T>(dir: string, io: CliIO, use: (cluster: ClusterAccess) => Promise<T>): Promise<T> {
  const inventory = await loadInventory(dir);
  const topology = buildTopology(inventory);
  const plan = pkiPlanOf(topology);
  const connector = createConnector(inventory, { networkGuard: assertInLabNamespaceIfLab, env: io.env });
  const access: ClusterAccess = {
    topology,
    connect: (host) => connector.connect(host),
    async etcdMembers(only) {
      const chosen = only === undefined ? topology.etcd : topology.etcd.filter((m) => m.host.name === only);
      if (chosen.length === 0) {
        throw new KprovError('usage', only === undefined ? 'the inventory has no etcd host' : `${only} is not an etcd member of the inventory`, {
          hint: `etcd members: ${topology.etcd.map((m) => m.host.name).join(', ') || 'none'}`,
        });
      }
      const members: ConnectedMember[] = [];
      const unreachable: string[] = [];
      for (const member of chosen) {
        try {
          const host = await connector.connect(member.host.name);
          members.push({ member, host, etcdctl: { bin: `${member.host.vars.bin_dir}/etcdctl`, tls: etcdTlsFiles(plan, member.host.name) } });
        } catch (err) {
          unreachable.push(`${member.host.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      return { members, unreachable };
    },
  };
  try {
    return await use(access);
  } finally {
    await connector.closeAll();
  }
}

/** The members that connect (`only`: that one), for `use`; connections closed after. */
export function withEtcdMembers<T>(dir: string, only: string | undefined, io: CliIO, use: (members: ConnectedMember[], unreachable: string[]) => Promise<T>): Promise<T> {
  return withCluster(dir, io, async (cluster) => {
    const { members, unreachable } = await cluster.etcdMembers(only);
    return use(members, unreachable);
  });
}
