/**
 * The cluster as the roles see it, derived once per run from the inventory: who runs what, at
 * which addresses, with which pod CIDR, and where the API server is reached. Pure: no I/O.
 */
import { KprovError } from '../errors.js';
import type { Inventory } from '../inventory/load.js';
import { GROUP } from '../inventory/model.js';
import type { ClusterVars, HostVars } from '../inventory/schema.js';
import { closestMatch } from '../did-you-mean.js';
import { parseAddress } from '../inventory/ipaddr.js';
import { allocatePodCidrs, type PodCidrRecord } from './pod-cidrs.js';

export interface ClusterHost {
  name: string;
  /** Where kprov reaches it over SSH. */
  address: string;
  /** The address its services bind to and advertise (`ip`, else the SSH address when it is an IP). */
  ip: string;
  /** The address other hosts use to reach it (`access_ip`, else `ip`). */
  accessIp: string;
  isControlPlane: boolean;
  isEtcd: boolean;
  /** Runs a kubelet and kube-proxy (member of k8s_cluster). */
  isNode: boolean;
  /** Listed in kube_node: takes workloads even when it is also control plane. */
  isWorker: boolean;
  vars: HostVars;
}

/** The node-local API proxy: a static pod on every node that is not a control-plane host. */
export interface ApiProxy {
  type: 'nginx' | 'haproxy';
  /** Where it listens on 127.0.0.1: the kubelet's and kube-proxy's API endpoint on those nodes. */
  port: number;
  /** Its own health endpoint on 127.0.0.1 (the static pod's liveness probe). */
  healthPort: number;
}

export interface EtcdMember {
  host: ClusterHost;
  /** `etcd_member_name`, unique in the cluster. */
  name: string;
  peerUrl: string;
  clientUrl: string;
}

export interface ClusterNode {
  host: ClusterHost;
  /** This node's slice of kube_pods_subnet (kube_network_node_prefix wide). */
  podCidr: string;
}

export interface Topology {
  vars: ClusterVars;
  hosts: ClusterHost[];
  /** The control-plane hosts that stay: a leaving one (remove-node) is no API server any more. */
  controlPlane: ClusterHost[];
  /** Every etcd member of the inventory, leaving ones too (remove-node removes them). */
  etcd: EtcdMember[];
  /** The nodes that stay: every k8s_cluster host but those `leaving`. */
  nodes: ClusterNode[];
  /** Hosts remove-node.yml is taking out of the cluster (`-e node=…`): no pod CIDR, no routes to them. */
  leaving: ClusterHost[];
  /** `https://ADDRESS:PORT` admin.conf uses, and the kubelets and kube-proxy without `apiProxy`. */
  apiserverEndpoint: string;
  /** With it, workers reach the API through it and control-plane hosts through their own API server. */
  apiProxy?: ApiProxy;
  /** `https://IP:2379,…` of the members that stay, for --etcd-servers and etcdctl. */
  etcdEndpoints: string;
  /** `name=https://IP:2380,…` of the members that stay, for etcd's --initial-cluster. */
  etcdInitialCluster: string;
}

function hostIp(name: string, address: string, vars: HostVars): string {
  if (vars.ip) return vars.ip;
  if (parseAddress(address)) return address;
  throw new KprovError('inventory', `host ${name} has no ip and its address ${address} is not an IP address`, {
    hint: `set ip=ADDRESS on ${name}'s line in the inventory (the address its services bind to)`,
  });
}

/**
 * The hosts `node` names: each a cluster host (k8s_cluster or etcd). A control-plane host may
 * leave while another stays: the run's topology then has the staying ones only, so the API
 * servers' flags, the workers' proxies, the certificates and admin.conf are made without it.
 */
function leavingHosts(names: readonly string[], hosts: readonly ClusterHost[], inventory: Inventory): ClusterHost[] {
  const problems: string[] = [];
  const out: ClusterHost[] = [];
  for (const name of names) {
    const host = hosts.find((h) => h.name === name);
    if (!host) {
      const known = inventory.hosts.some((h) => h.name === name);
      const close = closestMatch(name, hosts.map((h) => h.name));
      problems.push(known ? `${name} is not in k8s_cluster or etcd` : `${name} is not a host of the inventory${close ? ` (did you mean ${close}?)` : ''}`);
    } else if (!out.includes(host)) {
      out.push(host);
    }
  }
  const controlPlane = hosts.filter((h) => h.isControlPlane);
  if (problems.length === 0 && controlPlane.length > 0 && controlPlane.every((h) => out.includes(h))) {
    const names = controlPlane.map((h) => h.name).join(', ');
    throw new KprovError('usage', `node: removing ${names} would leave the cluster without a control-plane host`, {
      hint: 'keep at least one kube_control_plane host; to take the whole cluster down use kprov apply reset, or add a control-plane host with kprov apply cluster first',
    });
  }
  if (problems.length > 0) {
    throw new KprovError('usage', `node: ${problems.join('; ')}`, {
      hint: 'remove-node takes hosts of k8s_cluster or etcd out of the cluster: -e node=NAME[,NAME] with names from the inventory',
    });
  }
  return out;
}

export const urlHost = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);

/**
 * `podCidrs`: the slices the inventory directory records (pod-cidrs.ts); nodes keep them, new
 * nodes take the lowest free slice. Without a record the slices follow definition order.
 */
export function buildTopology(inventory: Inventory, podCidrs: PodCidrRecord = {}): Topology {
  const vars = inventory.cluster;
  const inGroup = (group: string, name: string) => (inventory.groups[group] ?? []).includes(name);
  const hosts: ClusterHost[] = inventory.hosts
    .filter((h) => inGroup(GROUP.k8sCluster, h.name) || inGroup(GROUP.etcd, h.name))
    .map((h) => {
      const hv = inventory.hostVars(h.name);
      const ip = hostIp(h.name, h.address, hv);
      return {
        name: h.name,
        address: h.address,
        ip,
        accessIp: hv.access_ip ?? ip,
        isControlPlane: inGroup(GROUP.controlPlane, h.name),
        isEtcd: inGroup(GROUP.etcd, h.name),
        isNode: inGroup(GROUP.k8sCluster, h.name),
        isWorker: inGroup(GROUP.node, h.name),
        vars: hv,
      };
    });
  const leaving = leavingHosts(vars.node ?? [], hosts, inventory);
  const controlPlane = hosts.filter((h) => h.isControlPlane && !leaving.includes(h));
  const etcd = hosts
    .filter((h) => h.isEtcd)
    .map((host) => ({
      host,
      name: host.vars.etcd_member_name,
      peerUrl: `https://${urlHost(host.accessIp)}:2380`,
      clientUrl: `https://${urlHost(host.accessIp)}:2379`,
    }));
  const stayingEtcd = etcd.filter((m) => !leaving.includes(m.host));
  const nodeHosts = hosts.filter((h) => h.isNode && !leaving.includes(h));
  const slices = allocatePodCidrs(nodeHosts.map((h) => h.name), podCidrs, vars.kube_pods_subnet, vars.kube_network_node_prefix);
  const nodes = nodeHosts.map((host) => ({ host, podCidr: slices.get(host.name)! }));
  const first = controlPlane[0];
  if (!first) throw new KprovError('inventory', 'the inventory has no kube_control_plane host');
  const lb = vars.loadbalancer_apiserver;
  // As Kubespray: the load balancer's name when it has one (the certificate carries it), else its address.
  const apiserverEndpoint = lb
    ? `https://${urlHost(vars.apiserver_loadbalancer_domain_name ?? lb.address)}:${lb.port ?? vars.kube_apiserver_port}`
    : `https://${urlHost(first.accessIp)}:${vars.kube_apiserver_port}`;
  // Kubespray deploys the proxy whenever loadbalancer_apiserver_localhost is true; with one
  // control-plane host there is nothing to balance, so kprov leaves it out.
  const apiProxy: ApiProxy | undefined =
    vars.loadbalancer_apiserver_localhost && !lb && controlPlane.length > 1
      ? { type: vars.loadbalancer_apiserver_type, port: vars.loadbalancer_apiserver_port, healthPort: vars.loadbalancer_apiserver_healthcheck_port }
      : undefined;
  return {
    vars,
    hosts,
    controlPlane,
    etcd,
    nodes,
    leaving,
    apiserverEndpoint,
    ...(apiProxy ? { apiProxy } : {}),
    etcdEndpoints: stayingEtcd.map((m) => m.clientUrl).join(','),
    etcdInitialCluster: stayingEtcd.map((m) => `${m.name}=${m.peerUrl}`).join(','),
  };
}
