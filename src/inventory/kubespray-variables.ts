/**
 * Kubespray's variables that kprov does not read, and what a Kubespray user gets instead. One
 * table serves the loader's warnings and docs/kubespray.md (a test keeps the page true to it).
 *
 * - `differs`: the cluster is not what Kubespray would build when the value is set other than
 *   `sameWhen` (dashboard_enabled: true gets no dashboard); warned about first, and an error
 *   under --strict.
 * - `no-effect`: settings of things kprov does differently as a whole (Docker, other network
 *   plugins, cloud providers, add-ons kprov does not deploy) or of Ansible's playbook machinery;
 *   the variable that switches the thing on carries the warning, so these stay quiet.
 */
import { parseAnsibleBoolean } from './literal.js';

export type KubesprayStatus = 'differs' | 'no-effect';

export interface KubesprayVariable {
  status: KubesprayStatus;
  /** One line: what kprov does instead. */
  instead: string;
  /** Values under which kprov's cluster is the same as Kubespray's (booleans compared as Ansible reads them). */
  sameWhen?: readonly unknown[];
}

interface Rule extends KubesprayVariable {
  /** Exact names, or a pattern for a family of names. */
  names: readonly string[] | RegExp;
}

const off = [false, undefined, null, ''] as const;
const empty = [undefined, null, '', []] as const;

const addon = (names: readonly string[], what: string): Rule => ({
  names,
  status: 'differs',
  instead: `kprov deploys no ${what}`,
  sameWhen: off,
});

const RULES: readonly Rule[] = [
  // Add-ons kprov does not deploy: the switch warns, their settings stay quiet.
  addon(['dashboard_enabled'], 'Kubernetes dashboard'),
  addon(['helm_enabled'], 'Helm (tiller)'),
  addon(['registry_enabled'], 'in-cluster registry'),
  addon(['metrics_server_enabled'], 'metrics-server'),
  addon(['local_volume_provisioner_enabled', 'local_path_provisioner_enabled', 'cephfs_provisioner_enabled', 'rbd_provisioner_enabled', 'persistent_volumes_enabled'], 'storage provisioner'),
  addon(['ingress_nginx_enabled'], 'ingress controller'),
  addon(['cert_manager_enabled'], 'cert-manager'),
  { names: ['cert_management'], status: 'no-effect', instead: "kprov issues the cluster PKI itself, as kubeadm v1.13 would (docs/pki.md)" },
  addon(['nvidia_accelerator_enabled'], 'GPU device plugin'),
  addon(['podsecuritypolicy_enabled'], 'PodSecurityPolicy admission or policies'),
  addon(['enable_nodelocaldns'], 'node-local DNS cache'),
  addon(['deploy_netchecker'], 'netchecker (kprov apply cluster verifies the cluster itself)'),
  addon(['kube_network_plugin_multus'], 'Multus'),
  addon(['metallb_enabled', 'metallb_speaker_enabled'], 'MetalLB'),
  addon(['argocd_enabled'], 'Argo CD'),
  addon(['gateway_api_enabled'], 'Gateway API resources'),
  addon(['ingress_alb_enabled'], 'AWS ALB ingress controller'),
  addon(['node_feature_discovery_enabled'], 'node feature discovery'),
  addon(['kata_containers_enabled'], 'Kata Containers runtime'),
  addon(['kube_vip_enabled'], 'kube-vip (nodes reach the API servers through loadbalancer_apiserver or the node-local API proxy)'),
  addon(['enable_nodelocaldns_secondary'], 'secondary node-local DNS cache'),
  addon(['auto_renew_certificates'], 'certificate renewal timer (renew with: kprov certs renew, then apply)'),
  addon(['ntp_enabled'], 'NTP configuration'),
  {
    names: /^(?:ingress_nginx|ingress_publish|cert_manager|metrics_server|local_path_provisioner|local_volume_provisioner|cephfs_provisioner|rbd_provisioner|registry|nvidia|helm|nodelocaldns|typha|metallb|argocd|ntp)_/,
    status: 'no-effect',
    instead: 'a setting of an add-on kprov does not deploy',
  },
  {
    names: ['resolvconf_mode', 'ndots', 'manual_dns_server', 'skydns_server_secondary', 'dnsmasq_dns_server', 'dnsmasq_upstream_dns_servers', 'enable_coredns_k8s_external', 'enable_coredns_k8s_endpoint_pod_names', 'coredns_k8s_external_zone', 'coredns_ordinal_suffix'],
    status: 'no-effect',
    instead: "a setting of a DNS layout kprov does not build: CoreDNS forwards to upstream_dns_servers, else to the node's /etc/resolv.conf",
  },
  addon(['enable_dns_autoscaler'], 'DNS autoscaler (CoreDNS keeps dns_min_replicas replicas)'),
  { names: ['dns_nodes_per_replica', 'dns_cores_per_replica', 'dns_prevent_single_point_failure'], status: 'no-effect', instead: 'a setting of the DNS autoscaler kprov does not deploy: CoreDNS keeps dns_min_replicas replicas' },

  // Whole areas kprov does its own way.
  { names: /^docker_|^deploy_container_engine$/, status: 'no-effect', instead: 'kprov runs containerd (container_manager: containerd); Docker settings have no effect' },
  {
    names: /^(?:calico|canal|cilium|contiv|flannel|kube_router|kube_ovn|macvlan|weave)_|^(?:peer_with_router|global_as_num|nat_outgoing)$/,
    status: 'no-effect',
    instead: "a setting of a network plugin kprov does not install (kprov's network is its bridge CNI with routes between nodes)",
  },
  { names: ['cloud_provider'], status: 'differs', instead: 'kprov configures no cloud provider', sameWhen: empty },
  { names: /^(?:azure|openstack|oci|aws|vsphere|gce)_/, status: 'no-effect', instead: 'a cloud-provider setting; kprov configures no cloud provider' },

  // Control plane and kubelet settings kprov does not apply yet.
  { names: ['kube_encrypt_secret_data'], status: 'differs', instead: 'kprov does not encrypt secrets at rest in etcd yet', sameWhen: off },
  { names: ['kube_basic_auth', 'kube_token_auth'], status: 'differs', instead: 'kprov enables no static password or token files (client certificates only)', sameWhen: off },
  { names: ['kube_api_pwd', 'kube_users'], status: 'no-effect', instead: 'static users; kprov authenticates with client certificates only' },
  { names: ['kube_api_anonymous_auth'], status: 'differs', instead: "kube-apiserver runs with v1.13's default (anonymous requests allowed, RBAC decides)", sameWhen: [true, undefined] },
  { names: ['kube_apiserver_insecure_port'], status: 'differs', instead: 'kube-apiserver serves only its secure port (--insecure-port=0)', sameWhen: [0, '0'] },
  { names: ['kube_read_only_port'], status: 'differs', instead: "the kubelet's read-only port is off (readOnlyPort: 0)", sameWhen: [0, '0', undefined] },
  { names: ['kube_service_addresses_ipv6', 'kube_pods_subnet_ipv6', 'kube_network_node_prefix_ipv6'], status: 'no-effect', instead: 'kprov builds IPv4 clusters; IPv6 ranges are not used' },
  { names: ['kube_proxy_strict_arp'], status: 'differs', instead: "kube-proxy runs with v1.13's default (strictARP off)", sameWhen: off },
  { names: ['kube_webhook_token_auth', 'kube_webhook_token_auth_url_skip_tls_verify'], status: 'differs', instead: 'kube-apiserver uses no authentication webhook', sameWhen: off },
  { names: ['remove_anonymous_access'], status: 'differs', instead: "anonymous requests stay as v1.13's RBAC allows them", sameWhen: off },
  { names: ['event_ttl_duration'], status: 'differs', instead: "kube-apiserver keeps events for v1.13's default (1h)", sameWhen: [undefined, '1h0m0s', '1h'] },
  { names: ['kubeadm_patches', 'kubeadm_patches_dir'], status: 'no-effect', instead: 'kubeadm patches; kprov renders the files itself (use the *_extra_args and *_custom_flags variables)' },
  { names: ['kube_owner'], status: 'no-effect', instead: 'kprov owns Kubernetes files as root, as kubeadm does' },
  { names: ['kube_proxy_nodeport_addresses', 'kube_proxy_nodeport_addresses_cidr'], status: 'differs', instead: 'kube-proxy serves NodePorts on every address of the node', sameWhen: empty },
  {
    names: /^(?:system_master|kube_master)_(?:cpu|memory)_reserved$/,
    status: 'differs',
    instead: 'control-plane hosts reserve the same as every node (kube_*_reserved, system_*_reserved)',
    sameWhen: [undefined],
  },
  { names: ['kubelet_enforce_node_allocatable'], status: 'differs', instead: 'the kubelet enforces allocatable for pods only', sameWhen: ['pods', undefined] },
  { names: ['additional_no_proxy'], status: 'differs', instead: 'kprov uses no_proxy as written (add the extra hosts there)', sameWhen: empty },
  { names: ['kube_override_hostname'], status: 'differs', instead: 'nodes are named by their inventory host names', sameWhen: [undefined, '', '{{ inventory_hostname }}'] },
  { names: ['etcd_compaction_retention', 'etcd_metrics', 'etcd_memory_limit', 'etcd_quota_backend_bytes', 'etcd_peer_client_auth'], status: 'differs', instead: "etcd runs with etcd's own default for this setting", sameWhen: [undefined] },

  // Playbook machinery and fixed locations.
  {
    names: ['kubeadm_enabled', 'kubelet_deployment_type', 'helm_deployment_type', 'etcd_kubeadm_enabled', 'kubeadm_control_plane', 'kubeadm_certificate_key', 'skip_non_kubeadm_warning'],
    status: 'no-effect',
    instead: "kprov writes kubeadm's layout itself, without running kubeadm",
  },
  {
    names: ['kube_script_dir', 'kube_manifest_dir', 'kube_token_dir', 'kube_users_dir', 'kube_cert_group', 'local_release_dir', 'credentials_dir', 'default_kubelet_config_dir', 'dynamic_kubelet_configuration', 'dynamic_kubelet_configuration_dir', 'kubelet_config_dir', 'kubelet_flexvolumes_plugins_dir', 'kubelet_load_modules', 'kubelet_cgroups_per_qos'],
    status: 'no-effect',
    instead: 'a location or switch of the Ansible roles; kprov keeps its files where kubeadm does (docs/cluster.md)',
  },
  {
    names: [
      'retry_stagger',
      'ignore_assert_errors',
      'download_container',
      'download_validate_certs',
      'pyrepo_index',
      'pyrepo_cert',
      'coreos_auto_upgrade',
      'volume_cross_zone_attachment',
      'enable_nat_default_gateway',
      'unsafe_show_logs',
      'allow_unsupported_distribution_setup',
      'no_proxy_exclude_workers',
    ],
    status: 'no-effect',
    instead: "a setting of Ansible's playbooks with no counterpart in kprov",
  },
];

/** What kprov does about a Kubespray variable it does not read, or undefined when Kubespray has no such variable either. */
export function kubesprayVariable(name: string): KubesprayVariable | undefined {
  const rule = RULES.find((r) => (r.names instanceof RegExp ? r.names.test(name) : r.names.includes(name)));
  if (!rule) return undefined;
  const { names: _names, ...info } = rule;
  return info;
}

/** Whether `value` leaves kprov's cluster as Kubespray's would be. */
export function sameAsKubespray(info: KubesprayVariable, value: unknown): boolean {
  if (info.status === 'no-effect') return true;
  const normal = (v: unknown) => JSON.stringify(parseAnsibleBoolean(v) ?? v ?? null);
  return (info.sameWhen ?? []).some((s) => normal(s) === normal(value));
}

/** The exact names the table lists, for did-you-mean and the documentation. */
export function kubesprayVariableNames(): string[] {
  return RULES.flatMap((r) => (r.names instanceof RegExp ? [] : [...r.names]));
}

/** The table as rows for docs/kubespray.md: names (or the pattern), status, what kprov does. */
export function kubesprayVariableRows(): { names: string; status: KubesprayStatus; instead: string }[] {
  return RULES.map((r) => ({
    names: r.names instanceof RegExp ? `\`${r.names.source}\`` : r.names.map((n) => `\`${n}\``).join(', '),
    status: r.status,
    instead: r.instead,
  }));
}
