/** The control-plane role's variables. */
import { declareVariables } from '../../inventory/variables.js';
import { oneOf, port } from '../../inventory/value-types.js';

export const CONTROL_PLANE_VARIABLES = declareVariables({
  kube_apiserver_port: { schema: port, default: 6443, scope: 'k8s_cluster' },
  control_plane_deployment_type: { schema: oneOf(['host', 'static_pod'] as const), default: 'host', scope: 'control_plane' },
});
