/** The cni role's variables. */
import { declareVariables } from '../../inventory/variables.js';
import { int, oneOf, release } from '../../inventory/value-types.js';

export const CNI_VARIABLES = declareVariables({
  // kprov's one network: the bridge plugin on every node, with routes between the nodes' pod CIDRs.
  kube_network_plugin: { schema: oneOf(['bridge'] as const), default: 'bridge', scope: 'k8s_cluster' },
  cni_version: { schema: release('a CNI plugins release such as v0.7.5', /^v?\d+\.\d+\.\d+$/, true), default: 'v0.7.5', scope: 'k8s_cluster' },
  kube_network_node_prefix: { schema: int('a prefix length (8-30 for IPv4, up to 126 for IPv6)', 8, 126), default: 24, scope: 'k8s_cluster' },
});
