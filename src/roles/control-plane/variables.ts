/** The control-plane role's variables. */
import { declareVariables } from '../../inventory/variables.js';
import { absolutePath, bool, httpUrl, int, list, oneOf, optional, port, scalarMap, text } from '../../inventory/value-types.js';

const flagList = list(text('a flag such as --v=3'), 'a list of flags such as ["--v=3"]');
const flagMap = scalarMap('a mapping of flag names to values, such as {service-node-port-range: 30000-32767}');

export const CONTROL_PLANE_VARIABLES = declareVariables({
  kube_apiserver_port: { schema: port, default: 6443, scope: 'k8s_cluster' },
  control_plane_deployment_type: { schema: oneOf(['host', 'static_pod'] as const), default: 'host', scope: 'control_plane' },

  // Extra flags, as kubeadm's extraArgs (the maps) and Kubespray's *_custom_flags (the lists).
  kube_kubeadm_apiserver_extra_args: { schema: flagMap, default: {}, scope: 'control_plane' },
  kube_kubeadm_controller_extra_args: { schema: flagMap, default: {}, scope: 'control_plane' },
  kube_kubeadm_scheduler_extra_args: { schema: flagMap, default: {}, scope: 'control_plane' },
  apiserver_custom_flags: { schema: flagList, default: [], scope: 'control_plane' },
  controller_mgr_custom_flags: { schema: flagList, default: [], scope: 'control_plane' },
  scheduler_custom_flags: { schema: flagList, default: [], scope: 'control_plane' },

  // What the control host gets in <inventory>/artifacts/ (kprov writes admin.conf unless told not to).
  kubeconfig_localhost: { schema: bool, default: true, scope: 'control_plane' },
  kubectl_localhost: { schema: bool, default: false, scope: 'control_plane' },

  // kube-apiserver's audit log (Kubespray's names and defaults).
  kubernetes_audit: { schema: bool, default: false, scope: 'control_plane' },
  audit_policy_file: { schema: absolutePath, default: '{{ kube_config_dir }}/audit-policy/apiserver-audit-policy.yaml', scope: 'control_plane' },
  audit_log_path: { schema: absolutePath, default: '/var/log/audit/kube-apiserver-audit.log', scope: 'control_plane' },
  audit_log_maxage: { schema: int('a number of days', 0, 100000), default: 30, scope: 'control_plane' },
  audit_log_maxbackups: { schema: int('a number of files', 0, 100000), default: 1, scope: 'control_plane' },
  audit_log_maxsize: { schema: int('a number of MiB', 0, 1000000), default: 100, scope: 'control_plane' },

  // OpenID Connect authentication of API users.
  kube_oidc_auth: { schema: bool, default: false, scope: 'control_plane' },
  kube_oidc_url: { schema: optional(httpUrl), scope: 'control_plane' },
  kube_oidc_client_id: { schema: optional(text('an OIDC client ID')), scope: 'control_plane' },
  kube_oidc_ca_file: { schema: optional(absolutePath), scope: 'control_plane' },
  kube_oidc_username_claim: { schema: optional(text('a claim name such as sub')), scope: 'control_plane' },
  kube_oidc_username_prefix: { schema: optional(text('a prefix such as oidc:')), scope: 'control_plane' },
  kube_oidc_groups_claim: { schema: optional(text('a claim name such as groups')), scope: 'control_plane' },
  kube_oidc_groups_prefix: { schema: optional(text('a prefix such as oidc:')), scope: 'control_plane' },
});
