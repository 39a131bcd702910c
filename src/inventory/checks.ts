/**
 * Semantic checks on a loaded inventory: what each variable's schema cannot see on its own.
 * Problems that make a cluster impossible are errors; doubtful choices are warnings.
 */
import { KprovError, type SourceLocation } from '../errors.js';
import type { VarDef } from './evaluator.js';
import type { Hierarchy } from './hierarchy.js';
import { formatIp, lastOf, networkOf, parseAddress, parseIpNet, type IpNet } from './ipaddr.js';
import { GROUP, type InventoryWarning } from './model.js';
import type { ClusterVars, HostVars } from './schema.js';

export interface CheckInput {
  source: string;
  hierarchy: Hierarchy;
  hostVars: ReadonlyMap<string, HostVars>;
  defs: ReadonlyMap<string, ReadonlyMap<string, VarDef>>;
  cluster: ClusterVars;
}

/** Where to point for a host's variable: its definition, else where the host was defined. */
function whereIs(input: CheckInput, host: string, key: string): SourceLocation {
  return input.defs.get(host)?.get(key)?.location ?? input.hierarchy.hostLocations.get(host) ?? { file: input.source };
}

/** Where a cluster-wide variable was defined, as the cluster view (first control-plane host) sees it. */
function clusterWhere(input: CheckInput, key: string): SourceLocation {
  const first = input.hierarchy.membersInOrder(GROUP.controlPlane)[0];
  return (first && input.defs.get(first)?.get(key)?.location) || { file: input.source };
}

/** The definition of the first of `keys` the user set (the other may be kprov's default). */
function userSetWhere(input: CheckInput, keys: readonly string[]): SourceLocation {
  for (const key of keys) {
    const at = clusterWhere(input, key);
    if (at.line !== undefined) return at;
  }
  return { file: input.source };
}

function overlaps(a: IpNet, b: IpNet): boolean {
  return a.version === b.version && networkOf(a) <= lastOf(b) && networkOf(b) <= lastOf(a);
}

export function checkGroups(hierarchy: Hierarchy, source: string): InventoryWarning[] {
  const warnings: InventoryWarning[] = [];
  if (hierarchy.hosts.length === 0) {
    throw new KprovError('inventory', 'the inventory defines no hosts; expected at least one host line', {
      location: { file: source },
      hint: 'list your machines under [all] and the groups, as `kprov init --hosts ADDR,…` writes them',
    });
  }
  if (hierarchy.membersInOrder(GROUP.controlPlane).length === 0) {
    throw new KprovError('inventory', 'no host is in kube_control_plane (kube-master); expected at least one', {
      location: hierarchy.groups.get(GROUP.controlPlane)?.location ?? { file: source },
      hint: 'add a [kube_control_plane] section listing the control-plane hosts',
    });
  }
  const etcd = hierarchy.membersInOrder(GROUP.etcd);
  if (etcd.length === 0) {
    throw new KprovError('inventory', 'no host is in etcd; expected 1, 3 or 5 etcd members', {
      location: hierarchy.groups.get(GROUP.etcd)?.location ?? { file: source },
      hint: 'add an [etcd] section listing the etcd hosts (often the control-plane hosts)',
    });
  }
  if (etcd.length % 2 === 0) {
    warnings.push({
      code: 'etcd-even',
      message: `etcd has ${etcd.length} members: an even count tolerates no more failures than ${etcd.length - 1}; use an odd number`,
      ...(hierarchy.groups.get(GROUP.etcd)?.location ? { location: hierarchy.groups.get(GROUP.etcd)!.location! } : {}),
    });
  }
  if (hierarchy.membersInOrder(GROUP.node).length === 0) {
    warnings.push({
      code: 'no-nodes',
      message: 'no host is in kube_node: the cluster will have nowhere to run workloads',
      location: { file: source },
    });
  }
  return warnings;
}

/** Checks that need the variables: etcd names, addresses, networks. */
export function checkVariables(input: CheckInput): void {
  const { hierarchy, hostVars, cluster } = input;
  const vars = (h: string) => hostVars.get(h)!;

  const names = new Map<string, string>();
  for (const host of hierarchy.membersInOrder(GROUP.etcd)) {
    const name = vars(host).etcd_member_name;
    const other = names.get(name);
    if (other !== undefined) {
      throw new KprovError('inventory', `etcd_member_name ${name} is used by both ${other} and ${host}; expected unique names`, {
        location: whereIs(input, host, 'etcd_member_name'),
      });
    }
    names.set(name, host);
  }

  const seen = new Map<string, string>();
  const claim = (kind: string, key: string, value: string, host: string, varName: string) => {
    const other = seen.get(`${kind}\u0000${value}`);
    if (other !== undefined && other !== host) {
      throw new KprovError('inventory', `hosts ${other} and ${host} have the same ${key} ${value}; expected one address per host`, {
        location: whereIs(input, host, varName),
      });
    }
    seen.set(`${kind}\u0000${value}`, host);
  };
  for (const host of hierarchy.hosts) {
    const v = vars(host);
    const port = v.ansible_port === 22 ? '' : `:${v.ansible_port}`;
    claim('ssh', port ? 'SSH address' : 'address', `${v.ansible_host}${port}`, host, 'ansible_host');
    if (v.ip !== undefined) claim('ip', 'ip', v.ip, host, 'ip');
    if (v.access_ip !== undefined) claim('access_ip', 'access_ip', v.access_ip, host, 'access_ip');
  }

  const service = parseIpNet(cluster.kube_service_addresses)!.net;
  const pods = parseIpNet(cluster.kube_pods_subnet)!.net;
  for (const [key, net] of [
    ['kube_service_addresses', service],
    ['kube_pods_subnet', pods],
  ] as const) {
    if (net.ip !== networkOf(net)) {
      throw new KprovError(
        'inventory',
        `${key}: found ${String(cluster[key])}, which has host bits set; expected a network address such as ${formatIp(net.version, networkOf(net))}/${net.prefix}`,
        { location: clusterWhere(input, key) },
      );
    }
  }
  if (service.version !== pods.version) {
    throw new KprovError('inventory', `kube_service_addresses is IPv${service.version} but kube_pods_subnet is IPv${pods.version}; expected one address family (Kubernetes v1.13 has no dual stack)`, {
      location: clusterWhere(input, 'kube_pods_subnet'),
    });
  }
  if (overlaps(service, pods)) {
    throw new KprovError('inventory', `kube_pods_subnet ${cluster.kube_pods_subnet} overlaps kube_service_addresses ${cluster.kube_service_addresses}; expected disjoint ranges`, {
      location: userSetWhere(input, ['kube_pods_subnet', 'kube_service_addresses']),
    });
  }
  const bits = pods.version === 4 ? 32 : 128;
  const nodePrefix = cluster.kube_network_node_prefix;
  if (nodePrefix < pods.prefix || nodePrefix > bits - 2) {
    throw new KprovError(
      'inventory',
      `kube_network_node_prefix: found ${nodePrefix}, expected a prefix between the pod network's /${pods.prefix} and /${bits - 2}`,
      { location: clusterWhere(input, 'kube_network_node_prefix') },
    );
  }
  for (const host of hierarchy.hosts) {
    const v = vars(host);
    for (const key of ['ansible_host', 'ip', 'access_ip'] as const) {
      const value = v[key];
      const addr = value === undefined ? undefined : parseAddress(value);
      if (!addr) continue;
      for (const [rangeKey, net] of [
        ['kube_service_addresses', service],
        ['kube_pods_subnet', pods],
      ] as const) {
        if (addr.version === net.version && addr.ip >= networkOf(net) && addr.ip <= lastOf(net)) {
          throw new KprovError('inventory', `${host}'s ${key} ${value} lies inside ${rangeKey} ${cluster[rangeKey]}; expected host addresses outside the cluster's ranges`, {
            location: whereIs(input, host, key),
          });
        }
      }
    }
  }
}
