/** The cluster DNS add-on's variables: Kubespray's names, its v1.13-era CoreDNS defaults. */
import { declareVariables } from '../../inventory/variables.js';
import { imageRepo, imageTag, int, oneOf, resourceQuantity as quantity } from '../../inventory/value-types.js';

export const DNS_VARIABLES = declareVariables({
  // coredns: CoreDNS answers at skydns_server; none: nothing does (bring your own).
  dns_mode: { schema: oneOf(['coredns', 'none'] as const), default: 'coredns', scope: 'k8s_cluster' },
  coredns_image_repo: { schema: imageRepo('docker.io/coredns/coredns'), default: 'docker.io/coredns/coredns', scope: 'k8s_cluster' },
  // kubeadm v1.13's CoreDNS.
  coredns_image_tag: { schema: imageTag, default: '1.2.6', scope: 'k8s_cluster' },
  // CoreDNS replicas (Kubespray scales them with an autoscaler from this minimum; kprov keeps this many).
  dns_min_replicas: { schema: int('a number of replicas (1-20)', 1, 20), default: 2, scope: 'k8s_cluster' },
  dns_memory_limit: { schema: quantity, default: '170Mi', scope: 'k8s_cluster' },
  dns_cpu_requests: { schema: quantity, default: '100m', scope: 'k8s_cluster' },
  dns_memory_requests: { schema: quantity, default: '70Mi', scope: 'k8s_cluster' },
  // For the images kprov's add-ons run (not the control plane's binaries in host mode).
  k8s_image_pull_policy: { schema: oneOf(['IfNotPresent', 'Always', 'Never'] as const), default: 'IfNotPresent', scope: 'k8s_cluster' },
});
