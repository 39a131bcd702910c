/**
 * What the kubelet and kube-proxy of one node are rendered with: their files, flags and
 * component configuration values, from the topology, the inventory and the PKI plan (where the
 * node's certificates and kubeconfigs go). Pure: nothing is issued, read or written here.
 */
import { CNI_BIN_DIR } from '../../artifacts/catalogue.js';
import { pkiPaths, pkiPlanOf } from '../../cluster/pki.js';
import type { Topology } from '../../cluster/topology.js';
import { collectExtraArgs } from '../../cluster/extra-args.js';
import { acceptedKubeFlags } from '../../cluster/flags.js';
import { KprovError } from '../../errors.js';
import type { HostVars } from '../../inventory/schema.js';
import { CGROUP_DRIVER } from '../runtime/cgroup-driver.js';
import { CNI_CONF_DIR, CONTAINERD_ENDPOINT } from '../runtime/containerd.js';

export const KUBELET_DIR = '/var/lib/kubelet';
export const KUBELET_CONFIG = `${KUBELET_DIR}/config.yaml`;
export const KUBE_PROXY_DIR = '/var/lib/kube-proxy';
export const KUBE_PROXY_CONFIG = `${KUBE_PROXY_DIR}/config.yaml`;
export const KUBELET_HEALTHZ_PORT = 10248;
export const KUBE_PROXY_HEALTHZ_PORT = 10256;
export const KUBE_PROXY_METRICS_PORT = 10249;

export interface NodeFiles {
  caCert: string;
  kubeletCert: string;
  kubeletKey: string;
  kubeletKubeconfig: string;
  kubeProxyKubeconfig: string;
}

/** Where the node's certificates and kubeconfigs are, as the PKI plan delivers them. */
export function nodeFiles(topology: Topology, host: string): NodeFiles {
  const paths = pkiPaths(pkiPlanOf(topology), host, ['node']);
  return {
    caCert: paths.file('ca', 'cert'),
    kubeletCert: paths.file(`kubelet/${host}-server`, 'cert'),
    kubeletKey: paths.file(`kubelet/${host}-server`, 'key'),
    kubeletKubeconfig: paths.file(`kubelet/${host}-client`, 'kubeconfig'),
    kubeProxyKubeconfig: paths.file('kube-proxy', 'kubeconfig'),
  };
}

/** `Name=true` feature gates as the map component configs take. */
function gateMap(gates: readonly string[]): Record<string, boolean> {
  return Object.fromEntries(gates.map((g) => {
    const [name, value] = g.split('=');
    return [name!, value === 'true'];
  }));
}

export const MASTER_ROLE_LABEL = 'node-role.kubernetes.io/master';
export const NODE_ROLE_LABEL = 'node-role.kubernetes.io/node';
export const MASTER_TAINT = `${MASTER_ROLE_LABEL}=:NoSchedule`;

/**
 * The labels and taints a node registers with: kubeadm v1.13's master label on control-plane
 * hosts and Kubespray's node label on kube_node hosts, then node_labels; the master taint on
 * control-plane hosts that are not also in kube_node (Kubespray's rule: listing a master under
 * kube_node means it takes workloads), then node_taints.
 */
export function nodeRegistration(host: { isControlPlane: boolean; isWorker: boolean }, vars: HostVars): { labels: string[]; taints: string[] } {
  const labels = new Map<string, string>();
  if (host.isControlPlane) labels.set(MASTER_ROLE_LABEL, '');
  if (host.isWorker) labels.set(NODE_ROLE_LABEL, '');
  for (const [k, v] of Object.entries(vars.node_labels)) labels.set(k, String(v));
  const taints = [...(host.isControlPlane && !host.isWorker ? [MASTER_TAINT] : []), ...vars.node_taints];
  return { labels: [...labels].map(([k, v]) => `${k}=${v}`), taints: [...new Set(taints)] };
}

/** The kubelet's flags from the inventory: its registration (labels, taints), then kubelet_custom_flags. */
export function kubeletExtraArgs(host: { isControlPlane: boolean; isWorker: boolean }, vars: HostVars): Map<string, string> {
  const { labels, taints } = nodeRegistration(host, vars);
  const registration: Record<string, string> = {
    ...(labels.length > 0 ? { 'node-labels': labels.join(',') } : {}),
    ...(taints.length > 0 ? { 'register-with-taints': taints.join(',') } : {}),
  };
  return collectExtraArgs(
    'kubelet',
    [
      { variable: 'node_labels / node_taints', value: registration },
      { variable: 'kubelet_custom_flags', value: vars.kubelet_custom_flags },
    ],
    acceptedKubeFlags('kubelet', vars.kube_version),
  );
}

export interface NodeTemplateVars {
  kubeletConfig: Record<string, unknown>;
  kubeletUnit: Record<string, unknown>;
  proxyConfig: Record<string, unknown>;
  proxyUnit: Record<string, unknown>;
  staticPodPath: string;
}

/** Every value the four node templates use, for `host`. */
export function nodeTemplateVars(topology: Topology, vars: HostVars, host: string): NodeTemplateVars {
  const node = topology.nodes.find((n) => n.host.name === host);
  if (!node) throw new KprovError('internal', `${host} is not a node of the cluster (k8s_cluster)`, { host });
  const files = nodeFiles(topology, host);
  const staticPodPath = `${vars.kube_config_dir}/manifests`;
  const common = { kube_version: vars.kube_version, log_level: vars.kube_log_level, bin_dir: vars.bin_dir };
  return {
    staticPodPath,
    kubeletConfig: {
      client_ca_file: files.caCert,
      cluster_domain: vars.dns_domain,
      cluster_dns: [vars.kube_dns_server],
      pod_cidr: node.podCidr,
      static_pod_path: staticPodPath,
      tls_cert_file: files.kubeletCert,
      tls_private_key_file: files.kubeletKey,
      healthz_port: KUBELET_HEALTHZ_PORT,
      cgroup_driver: CGROUP_DRIVER,
      max_pods: vars.kubelet_max_pods,
      feature_gates: gateMap(vars.kube_feature_gates),
      kube_reserved: vars.kube_reserved ? { cpu: vars.kube_cpu_reserved, memory: vars.kube_memory_reserved } : null,
      system_reserved: vars.system_reserved ? { cpu: vars.system_cpu_reserved, memory: vars.system_memory_reserved } : null,
    },
    kubeletUnit: {
      ...common,
      kubelet_path: `${vars.bin_dir}/kubelet`,
      config: KUBELET_CONFIG,
      kubeconfig: files.kubeletKubeconfig,
      runtime_endpoint: CONTAINERD_ENDPOINT,
      cni_bin_dir: CNI_BIN_DIR,
      cni_conf_dir: CNI_CONF_DIR,
      node_name: host,
      node_ip: node.host.ip,
    },
    proxyConfig: {
      kubeconfig: files.kubeProxyKubeconfig,
      mode: vars.kube_proxy_mode,
      cluster_cidr: vars.kube_pods_subnet,
      hostname_override: host,
      bind_address: "0.0.0.0",
      healthz_bind_address: `0.0.0.0:${KUBE_PROXY_HEALTHZ_PORT}`,
      metrics_bind_address: `127.0.0.1:${KUBE_PROXY_METRICS_PORT}`,
      feature_gates: gateMap(vars.kube_feature_gates),
    },
    proxyUnit: {
      ...common,
      kube_proxy_path: `${vars.bin_dir}/kube-proxy`,
      config: KUBE_PROXY_CONFIG,
    },
  };
}
