/** The node role's variables (kubelet and kube-proxy). */
import { declareVariables } from '../../inventory/variables.js';
import { int, oneOf } from '../../inventory/value-types.js';

export const NODE_VARIABLES = declareVariables({
  kube_proxy_mode: { schema: oneOf(['iptables', 'ipvs'] as const), default: 'iptables', scope: 'k8s_cluster' },
  kubelet_max_pods: { schema: int('a number of pods (1-10000)', 1, 10000), default: 110 },
});
