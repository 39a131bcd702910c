/** The node role's variables (kubelet and kube-proxy). */
import { declareVariables } from '../../inventory/variables.js';
import { absolutePath, bool, imageRepo, imageTag, int, list, oneOf, resourceQuantity, scalarMap, text } from '../../inventory/value-types.js';

const quantity = (what: string) => text(`a ${what} quantity such as ${what === 'CPU' ? '500m' : '512Mi'}`);

export const NODE_VARIABLES = declareVariables({
  kube_proxy_mode: { schema: oneOf(['iptables', 'ipvs'] as const), default: 'iptables', scope: 'k8s_cluster' },
  kubelet_max_pods: { schema: int('a number of pods (1-10000)', 1, 10000), default: 110 },
  kubelet_custom_flags: { schema: list(text('a flag such as --v=3'), 'a list of flags such as ["--v=3"]'), default: [] },

  // The node's registration: labels and taints (`key=value:Effect`), per host or group.
  node_labels: { schema: scalarMap('a mapping of label names to values'), default: {} },
  node_taints: {
    schema: list(text('a taint such as dedicated=gpu:NoSchedule').regex(/^[^=:\s]+(?:=[^:\s]*)?:(?:NoSchedule|PreferNoSchedule|NoExecute)$/, 'a taint such as dedicated=gpu:NoSchedule'), 'a list of taints'),
    default: [],
  },

  // Resources the kubelet keeps back from pods (Kubespray's names and defaults).
  kube_reserved: { schema: bool, default: false },
  kube_memory_reserved: { schema: quantity('memory'), default: '256M' },
  kube_cpu_reserved: { schema: quantity('CPU'), default: '100m' },
  system_reserved: { schema: bool, default: false },
  system_memory_reserved: { schema: quantity('memory'), default: '512M' },
  system_cpu_reserved: { schema: quantity('CPU'), default: '500m' },
});

const k8sCluster = 'k8s_cluster' as const;

/**
 * The node-local API proxy's image, configuration directory and resources: Kubespray's names and
 * its v1.13-era defaults (nginx 1.15, haproxy 1.9). Where it listens and whether it runs are
 * cluster variables (loadbalancer_apiserver_*), read by the topology.
 */
export const API_PROXY_VARIABLES = declareVariables({
  nginx_image_repo: { schema: imageRepo('docker.io/library/nginx'), default: 'docker.io/library/nginx', scope: k8sCluster },
  nginx_image_tag: { schema: imageTag, default: '1.15', scope: k8sCluster },
  nginx_config_dir: { schema: absolutePath, default: '/etc/nginx', scope: k8sCluster },
  nginx_memory_limit: { schema: resourceQuantity, default: '512M', scope: k8sCluster },
  nginx_cpu_limit: { schema: resourceQuantity, default: '300m', scope: k8sCluster },
  nginx_memory_requests: { schema: resourceQuantity, default: '32M', scope: k8sCluster },
  nginx_cpu_requests: { schema: resourceQuantity, default: '25m', scope: k8sCluster },
  haproxy_image_repo: { schema: imageRepo('docker.io/library/haproxy'), default: 'docker.io/library/haproxy', scope: k8sCluster },
  haproxy_image_tag: { schema: imageTag, default: '1.9', scope: k8sCluster },
  haproxy_config_dir: { schema: absolutePath, default: '/etc/haproxy', scope: k8sCluster },
  haproxy_memory_limit: { schema: resourceQuantity, default: '512M', scope: k8sCluster },
  haproxy_cpu_limit: { schema: resourceQuantity, default: '300m', scope: k8sCluster },
  haproxy_memory_requests: { schema: resourceQuantity, default: '32M', scope: k8sCluster },
  haproxy_cpu_requests: { schema: resourceQuantity, default: '25m', scope: k8sCluster },
});
