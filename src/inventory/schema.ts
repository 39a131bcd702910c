/**
 * The variables kprov understands: Kubespray's names, kprov's defaults, zod schemas. Values
 * arrive typed by YAML, by Ansible's INI rules (inline literals) or as strings (`:vars`), so
 * integers and booleans are also accepted as text ("6443", "yes"). Each schema's error message
 * says what is expected; the loader adds what was found and where.
 */
import { z } from 'zod';
import { ARTIFACT_VAR_NAMES, type ArtifactVarName } from '../artifacts/ids.js';
import { parseAnsibleBoolean, parseFlowLiteral } from './literal.js';
import { parseAddress, parseIpNet } from './ipaddr.js';

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

/** "6443" → 6443, as Ansible's `:vars` values need. */
function intFromText(v: unknown): unknown {
  return typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : v;
}

/** A Python/YAML list or dict written as text (`['a', 'b']`), as `:vars` values carry them. */
function structureFromText(v: unknown): unknown {
  return typeof v === 'string' && /^\s*[[{]/.test(v) ? (parseFlowLiteral(v.trim()) ?? v) : v;
}

/** An empty value ("" or YAML's null) leaves an optional variable unset. */
function unsetIfEmpty(v: unknown): unknown {
  return v === '' || v === null ? undefined : v;
}

/** Kubespray writes `0` for "no checksum known". */
function unsetIfNoChecksum(v: unknown): unknown {
  return v === 0 || v === '0' ? undefined : unsetIfEmpty(v);
}

const int = (expected: string, min: number, max: number) =>
  z.preprocess(intFromText, z.number({ error: expected }).int(expected).min(min, expected).max(max, expected));

const bool = z.preprocess((v) => parseAnsibleBoolean(v) ?? v, z.boolean({ error: 'true or false (or yes/no)' }));

const text = (expected: string) => z.string({ error: expected }).trim().min(1, expected);

const port = int('a port number (1-65535)', 1, 65535);

const absolutePath = text('an absolute path').regex(/^\/[^\0]*$/, 'an absolute path');

const ip = text('an IP address').refine((s) => parseAddress(s) !== undefined, 'an IP address');

const hostOrIp = text('an IP address or DNS name').refine(
  (s) => parseAddress(s) !== undefined || (DNS_NAME.test(s) && !/^[\d.]+$/.test(s)),
  'an IP address or DNS name',
);

const cidr = text('a CIDR such as 10.233.0.0/18').refine((s) => {
  const parsed = parseIpNet(s);
  return parsed !== undefined && parsed.vtype === 'network' && /\/\d+$/.test(s);
}, 'a CIDR such as 10.233.0.0/18');

const httpUrl = text('an http:// or https:// URL').refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}, 'an http:// or https:// URL');

const CHECKSUM = /^(?:sha256:[0-9a-fA-F]{64}|sha512:[0-9a-fA-F]{128}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$/;
const checksum = text('a checksum: 64 hex digits (sha256), sha256:<hex> or sha512:<hex>').regex(
  CHECKSUM,
  'a checksum: 64 hex digits (sha256), sha256:<hex> or sha512:<hex>',
);

const list = <T extends z.ZodType>(item: T, expected: string) => z.preprocess(structureFromText, z.array(item, { error: expected }));

const optional = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema.optional());

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `one of ${values.join(', ')}` });

const userName = text('a user name').regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'a user name');

/** Kubernetes v1.13.0 … v1.13.12: the releases that exist. */
const kubeVersion = text('a v1.13 release such as v1.13.5 (kprov deploys Kubernetes v1.13 only)').regex(
  /^v1\.13\.(?:\d|1[0-2])$/,
  'v1.13.x (v1.13.0 … v1.13.12): kprov deploys Kubernetes v1.13 only',
);

const release = (expected: string, pattern: RegExp, withV: boolean) =>
  text(expected)
    .regex(pattern, expected)
    .transform((s) => (withV ? (s.startsWith('v') ? s : `v${s}`) : s.replace(/^v/, '')));

/** The artifacts whose download URL and checksum can be overridden (`<name>_download_url`, `<name>_checksum`). */
export const ARTIFACT_VAR_PREFIXES = ARTIFACT_VAR_NAMES;
type ArtifactPrefix = ArtifactVarName;

const downloadUrl = optional(httpUrl);
const checksumPin = z.preprocess(unsetIfNoChecksum, checksum.optional());
const artifactShape = Object.fromEntries(
  ARTIFACT_VAR_PREFIXES.flatMap((a) => [
    [`${a}_download_url`, downloadUrl],
    [`${a}_checksum`, checksumPin],
  ]),
) as { [K in ArtifactPrefix as `${K}_download_url`]: typeof downloadUrl } & {
  [K in ArtifactPrefix as `${K}_checksum`]: typeof checksumPin;
};

const loadbalancer = z.preprocess(
  structureFromText,
  z.object(
    { address: hostOrIp, port: optional(port) },
    { error: 'a mapping {address: ADDRESS, port: PORT}' },
  ),
);

export const hostVarsSchema = z.object({
  // How to reach and identify the host.
  ansible_host: hostOrIp,
  ip: optional(ip),
  access_ip: optional(ip),
  ansible_user: userName,
  ansible_port: port,
  ansible_ssh_private_key_file: optional(text('a file path')),
  ansible_become: optional(bool),
  ansible_become_user: userName,
  etcd_member_name: text('an etcd member name').regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'an etcd member name (letters, digits, ".", "-", "_")'),
  ssh_key_type: oneOf(['ed25519', 'rsa'] as const),

  // Versions.
  kube_version: kubeVersion,
  kubectl_version: release('a Kubernetes release such as v1.13.5', /^v?1\.\d+\.\d+$/, true),
  etcd_version: release('an etcd v3 release such as v3.2.24', /^v?3\.\d+\.\d+$/, true),
  containerd_version: release('a containerd release such as 1.2.6', /^v?\d+\.\d+\.\d+$/, false),
  runc_version: release('a runc release such as v1.0.0-rc6', /^v?\d+\.\d+\.\d+(?:-rc\d+(?:\.\d+)?)?$/, true),
  cni_version: release('a CNI plugins release such as v0.7.5', /^v?\d+\.\d+\.\d+$/, true),
  image_arch: oneOf(['amd64', 'arm64'] as const),

  // Networks and names.
  kube_service_addresses: cidr,
  kube_pods_subnet: cidr,
  kube_network_node_prefix: int('a prefix length (8-30 for IPv4, up to 126 for IPv6)', 8, 126),
  cluster_name: text('a DNS domain such as cluster.local').regex(DNS_NAME, 'a DNS domain such as cluster.local'),
  dns_domain: text('a DNS domain such as cluster.local').regex(DNS_NAME, 'a DNS domain such as cluster.local'),
  kube_apiserver_port: port,
  kube_apiserver_ip: ip,
  skydns_server: ip,
  kube_dns_server: ip,
  kube_proxy_mode: oneOf(['iptables', 'ipvs'] as const),
  loadbalancer_apiserver: optional(loadbalancer),
  loadbalancer_apiserver_localhost: bool,
  supplementary_addresses_in_ssl_keys: list(hostOrIp, 'a list of IP addresses or DNS names'),
  upstream_dns_servers: list(ip, 'a list of IP addresses'),

  // Components and where they live.
  container_manager: z.literal('containerd', { error: 'containerd (the container runtime kprov installs)' }),
  etcd_deployment_type: oneOf(['host', 'static_pod'] as const),
  control_plane_deployment_type: oneOf(['host', 'static_pod'] as const),
  bin_dir: absolutePath,
  kube_config_dir: absolutePath,
  kube_cert_dir: absolutePath,
  etcd_cert_dir: absolutePath,
  etcd_data_dir: absolutePath,
  kube_log_level: int('a log level (0-10)', 0, 10),
  kubelet_max_pods: int('a number of pods (1-10000)', 1, 10000),
  preflight_min_memory_mb_control_plane: int('a number of MiB', 0, 1 << 24),
  preflight_min_memory_mb_node: int('a number of MiB', 0, 1 << 24),
  pki_key_algorithm: oneOf(['ecdsa-p256', 'rsa-2048'] as const),

  // Downloads.
  download_localhost: bool,
  files_repo: optional(httpUrl),
  ...artifactShape,

  // Written by `kprov lab`; passed through.
  kprov_lab: optional(z.preprocess(structureFromText, z.record(z.string(), z.unknown(), { error: 'a mapping' }))),
});

export type HostVars = z.output<typeof hostVarsSchema>;
export type KnownVariable = keyof typeof hostVarsSchema.shape;

/** Variables about one host (how to reach it, its addresses and identity), not the cluster. */
export const HOST_IDENTITY_KEYS = [
  'ansible_host',
  'ip',
  'access_ip',
  'ansible_user',
  'ansible_port',
  'ansible_ssh_private_key_file',
  'ansible_become',
  'ansible_become_user',
  'etcd_member_name',
] as const satisfies readonly KnownVariable[];

export const clusterVarsSchema = hostVarsSchema.omit({
  ansible_host: true,
  ip: true,
  access_ip: true,
  ansible_user: true,
  ansible_port: true,
  ansible_ssh_private_key_file: true,
  ansible_become: true,
  ansible_become_user: true,
  etcd_member_name: true,
});

export type ClusterVars = z.output<typeof clusterVarsSchema>;

const service = (n: number) => `{{ kube_service_addresses | ipaddr('net') | ipaddr(${n}) | ipaddr('address') }}`;

/**
 * kprov's defaults, Kubespray's where kprov follows it. Strings may be expressions, evaluated
 * like inventory values (dns_domain follows cluster_name, the service addresses follow
 * kube_service_addresses). Variables without a default are optional.
 */
export const DEFAULTS: Readonly<Partial<Record<KnownVariable, unknown>>> = {
  ansible_host: '{{ inventory_hostname }}',
  ansible_user: 'root',
  ansible_port: 22,
  ansible_become_user: 'root',
  etcd_member_name: '{{ inventory_hostname }}',
  ssh_key_type: 'ed25519',
  kube_version: 'v1.13.5',
  kubectl_version: '{{ kube_version }}',
  etcd_version: 'v3.2.24',
  containerd_version: '1.2.6',
  runc_version: 'v1.0.0-rc6',
  cni_version: 'v0.7.5',
  image_arch: 'amd64',
  kube_service_addresses: '10.233.0.0/18',
  kube_pods_subnet: '10.233.64.0/18',
  kube_network_node_prefix: 24,
  cluster_name: 'cluster.local',
  dns_domain: '{{ cluster_name }}',
  kube_apiserver_port: 6443,
  kube_apiserver_ip: service(1),
  skydns_server: service(3),
  kube_dns_server: '{{ skydns_server }}',
  kube_proxy_mode: 'iptables',
  loadbalancer_apiserver_localhost: '{{ loadbalancer_apiserver is not defined }}',
  supplementary_addresses_in_ssl_keys: [],
  upstream_dns_servers: [],
  container_manager: 'containerd',
  etcd_deployment_type: 'host',
  control_plane_deployment_type: 'host',
  bin_dir: '/usr/local/bin',
  kube_config_dir: '/etc/kubernetes',
  kube_cert_dir: '{{ kube_config_dir }}/ssl',
  etcd_cert_dir: '/etc/ssl/etcd/ssl',
  etcd_data_dir: '/var/lib/etcd',
  kube_log_level: 2,
  kubelet_max_pods: 110,
  preflight_min_memory_mb_control_plane: 1500,
  preflight_min_memory_mb_node: 1024,
  pki_key_algorithm: 'ecdsa-p256',
  download_localhost: true,
};

/**
 * Ansible's older spellings of connection variables. When both are set the current name wins,
 * as in Ansible; the old one is used only when the current one is not set anywhere.
 */
export const VARIABLE_ALIASES: Readonly<Record<string, KnownVariable>> = {
  ansible_ssh_host: 'ansible_host',
  ansible_ssh_user: 'ansible_user',
  ansible_ssh_port: 'ansible_port',
  ansible_private_key_file: 'ansible_ssh_private_key_file',
};

/** Which hosts must agree on a cluster-wide variable (others may differ freely). */
export type AgreementScope = 'k8s_cluster' | 'etcd' | 'control_plane' | 'cluster';

const downloadKeys = Object.fromEntries(
  ARTIFACT_VAR_PREFIXES.flatMap((a) => [
    [`${a}_download_url`, 'cluster'],
    [`${a}_checksum`, 'cluster'],
  ]),
) as Record<string, AgreementScope>;

/**
 * Cluster-wide variables and the hosts that must see one value: Kubernetes settings on the
 * k8s_cluster hosts, etcd settings on the etcd hosts, downloads on both. The `cluster` view takes
 * each from the first host of its scope.
 */
export const CLUSTER_WIDE: Readonly<Partial<Record<KnownVariable, AgreementScope>>> = {
  kube_version: 'k8s_cluster',
  containerd_version: 'k8s_cluster',
  runc_version: 'k8s_cluster',
  cni_version: 'k8s_cluster',
  image_arch: 'cluster',
  kube_service_addresses: 'k8s_cluster',
  kube_pods_subnet: 'k8s_cluster',
  kube_network_node_prefix: 'k8s_cluster',
  cluster_name: 'k8s_cluster',
  dns_domain: 'k8s_cluster',
  kube_apiserver_port: 'k8s_cluster',
  kube_apiserver_ip: 'k8s_cluster',
  skydns_server: 'k8s_cluster',
  kube_dns_server: 'k8s_cluster',
  kube_proxy_mode: 'k8s_cluster',
  loadbalancer_apiserver: 'k8s_cluster',
  loadbalancer_apiserver_localhost: 'k8s_cluster',
  supplementary_addresses_in_ssl_keys: 'k8s_cluster',
  container_manager: 'k8s_cluster',
  pki_key_algorithm: 'cluster',
  etcd_version: 'etcd',
  etcd_deployment_type: 'etcd',
  control_plane_deployment_type: 'control_plane',
  download_localhost: 'cluster',
  files_repo: 'cluster',
  ...downloadKeys,
};

export function isKnownVariable(name: string): name is KnownVariable {
  return name in hostVarsSchema.shape;
}
