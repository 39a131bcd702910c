/**
 * Variables Kubespray defines in its roles' defaults (not in its sample inventory) that the
 * sample's own expressions refer to, so a sample loads as it does under Kubespray: master's
 * `kube_apiserver_ip: "{{ kube_service_subnets.split(',') | first | … }}"`. Available to
 * expressions only; kprov reads none of them itself, and an inventory's own value wins.
 */
export const KUBESPRAY_ROLE_DEFAULTS: Readonly<Record<string, unknown>> = {
  // kprov is IPv4 only, so the dual-stack lists are the IPv4 ranges (Kubespray's kubespray_defaults).
  kube_service_subnets: '{{ kube_service_addresses }}',
  kube_pods_subnets: '{{ kube_pods_subnet }}',
  ipv4_stack: true,
  ipv6_stack: false,
  enable_dual_stack_networks: false,
  metallb_enabled: false,
  containerd_static_binary: false,
};
