/**
 * Variables every cluster role reads: the Kubernetes version, the cluster's networks and names,
 * where the API server is reached, and the directories kprov installs into.
 */
import { z } from 'zod';
import { declareVariables } from '../inventory/variables.js';
import {
  absolutePath,
  bool,
  cidr,
  featureGates,
  DNS_NAME,
  hostOrIp,
  httpUrl,
  int,
  ip,
  kubeVersion,
  list,
  oneOf,
  optional,
  port,
  release,
  structureFromText,
  text,
} from '../inventory/value-types.js';

const service = (n: number) => `{{ kube_service_addresses | ipaddr('net') | ipaddr(${n}) | ipaddr('address') }}`;

const dnsDomain = text('a DNS domain such as cluster.local').regex(DNS_NAME, 'a DNS domain such as cluster.local');

const loadbalancer = z.preprocess(
  structureFromText,
  z.object({ address: hostOrIp, port: optional(port) }, { error: 'a mapping {address: ADDRESS, port: PORT}' }),
);

export const CLUSTER_VARIABLES = declareVariables({
  kube_version: { schema: kubeVersion, default: 'v1.13.5', scope: 'k8s_cluster' },
  kubectl_version: { schema: release('a Kubernetes release such as v1.13.5', /^v?1\.\d+\.\d+$/, true), default: '{{ kube_version }}' },
  image_arch: { schema: oneOf(['amd64', 'arm64'] as const), default: 'amd64', scope: 'cluster' },

  kube_service_addresses: { schema: cidr, default: '10.233.0.0/18', scope: 'k8s_cluster' },
  kube_pods_subnet: { schema: cidr, default: '10.233.64.0/18', scope: 'k8s_cluster' },
  cluster_name: { schema: dnsDomain, default: 'cluster.local', scope: 'k8s_cluster' },
  dns_domain: { schema: dnsDomain, default: '{{ cluster_name }}', scope: 'k8s_cluster' },
  kube_apiserver_ip: { schema: ip, default: service(1), scope: 'k8s_cluster' },
  skydns_server: { schema: ip, default: service(3), scope: 'k8s_cluster' },
  kube_dns_server: { schema: ip, default: '{{ skydns_server }}', scope: 'k8s_cluster' },
  loadbalancer_apiserver: { schema: optional(loadbalancer), scope: 'k8s_cluster' },
  // The external load balancer's DNS name: the API endpoint and a SAN of the apiserver certificate.
  apiserver_loadbalancer_domain_name: { schema: optional(hostOrIp), scope: 'k8s_cluster' },
  // The node-local API proxy (Kubespray's nginx-proxy / haproxy static pod) on nodes that are not
  // control-plane hosts; deployed when this is true, there is no loadbalancer_apiserver, and there
  // is more than one control-plane host to balance.
  loadbalancer_apiserver_localhost: { schema: bool, default: '{{ loadbalancer_apiserver is not defined }}', scope: 'k8s_cluster' },
  loadbalancer_apiserver_type: { schema: oneOf(['nginx', 'haproxy'] as const), default: 'nginx', scope: 'k8s_cluster' },
  // Kubespray v2.9 called these nginx_kube_apiserver_port and nginx_kube_apiserver_healthcheck_port.
  loadbalancer_apiserver_port: { schema: port, default: '{{ nginx_kube_apiserver_port | default(6443) }}', scope: 'k8s_cluster' },
  loadbalancer_apiserver_healthcheck_port: { schema: port, default: '{{ nginx_kube_apiserver_healthcheck_port | default(8081) }}', scope: 'k8s_cluster' },
  nginx_kube_apiserver_port: { schema: optional(port), scope: 'k8s_cluster' },
  nginx_kube_apiserver_healthcheck_port: { schema: optional(port), scope: 'k8s_cluster' },
  upstream_dns_servers: { schema: list(ip, 'a list of IP addresses'), default: [] },

  bin_dir: { schema: absolutePath, default: '/usr/local/bin' },
  kube_config_dir: { schema: absolutePath, default: '/etc/kubernetes' },
  kube_cert_dir: { schema: absolutePath, default: '{{ kube_config_dir }}/ssl' },
  kube_log_level: { schema: int('a log level (0-10)', 0, 10), default: 2 },
  // Passed to every Kubernetes component (flags, or featureGates in the kubelet's and kube-proxy's config).
  kube_feature_gates: { schema: featureGates, default: [], scope: 'k8s_cluster' },

  // Proxies: for kprov's downloads on the control host and for containerd's image pulls on hosts.
  http_proxy: { schema: optional(httpUrl), scope: 'cluster' },
  https_proxy: { schema: optional(httpUrl), scope: 'cluster' },
  no_proxy: { schema: optional(text('a comma-separated list of hosts and domains')), scope: 'cluster' },

  // Written by `kprov lab`; passed through.
  kprov_lab: { schema: optional(z.preprocess(structureFromText, z.record(z.string(), z.unknown(), { error: 'a mapping' }))) },
});
