/** The node role's variables (kubelet and kube-proxy). */
import { declareVariables } from '../../inventory/variables.js';
import { bool, int, list, oneOf, scalarMap, text } from '../../inventory/value-types.js';

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
