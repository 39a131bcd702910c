/**
 * The pod network of one node, from the cluster topology: its pod CIDR (its slice of
 * kube_pods_subnet), the bridge gateway, and a route to every other node's pod CIDR through that
 * node's address. Pure: no I/O.
 */
import { versionAtLeast } from '../../artifacts/versions.js';
import type { Topology } from '../../cluster/topology.js';
import { KprovError } from '../../errors.js';
import { formatIp, networkOf, parseIpNet, type IpVersion } from '../../inventory/ipaddr.js';

export interface PodRoute {
  /** Another node's pod CIDR. */
  dst: string;
  /** That node's address (`ip`). */
  via: string;
  /** That node's inventory name (for messages). */
  node: string;
  family: IpVersion;
}

export interface PodNetwork {
  podCidr: string;
  /** The bridge's address: the first address of the pod CIDR. */
  gateway: string;
  family: IpVersion;
  routes: PodRoute[];
}

function familyOf(cidr: string): IpVersion {
  const parsed = parseIpNet(cidr);
  if (!parsed) throw new KprovError('internal', `${cidr} is not a CIDR`);
  return parsed.net.version;
}

/** The first host address of a CIDR (network + 1). */
export function gatewayOf(cidr: string): string {
  const parsed = parseIpNet(cidr);
  if (!parsed) throw new KprovError('internal', `${cidr} is not a CIDR`);
  return formatIp(parsed.net.version, networkOf(parsed.net) + 1n);
}

export function podNetworkOf(topology: Topology, host: string): PodNetwork {
  const me = topology.nodes.find((n) => n.host.name === host);
  if (!me) throw new KprovError('internal', `${host} is not a node of the cluster (k8s_cluster)`, { host });
  return {
    podCidr: me.podCidr,
    gateway: gatewayOf(me.podCidr),
    family: familyOf(me.podCidr),
    routes: topology.nodes
      .filter((n) => n.host.name !== host)
      .map((n) => ({ dst: n.podCidr, via: n.host.ip, node: n.host.name, family: familyOf(n.podCidr) })),
  };
}

/**
 * The `cniVersion` written in the network config. 0.3.1 is understood by every plugins release
 * kprov installs (v0.6.0 on, which also read `subnet` in host-local's flat form) and by every CRI
 * runtime that can serve kubelet v1.13 (containerd 1.2's libcni knows nothing newer).
 */
export function cniSpecVersion(cniVersion: string): string {
  if (!versionAtLeast(cniVersion, 'v0.6.0')) {
    throw new KprovError('config', `cni_version ${cniVersion} is too old: kprov's bridge network needs CNI plugins v0.6.0 or later`, {
      hint: 'set cni_version to v0.7.5 or later',
    });
  }
  return '0.3.1';
}
