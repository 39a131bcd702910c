/**
 * The control plane's systemd units: kube-apiserver, kube-controller-manager and kube-scheduler,
 * with kubeadm v1.13's flags (plus Kubespray's where kubeadm has none), rendered from templates/
 * and checked against the v1.13 flag list. Pure: everything comes from the topology and the PKI plan.
 */
import { collectExtraArgs, type ExtraArgsSource } from '../../cluster/extra-args.js';
import { acceptedKubeFlags, renderUnit } from '../../cluster/flags.js';
import type { HostVars } from '../../inventory/schema.js';
import { pkiPaths } from '../../cluster/pki.js';
import type { ClusterHost, Topology } from '../../cluster/topology.js';
import type { CertSpec, PkiConsumer } from '../../pki/index.js';
import type { ClusterRenderContext } from '../../cluster/run.js';

export const CONTROL_PLANE_COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type ControlPlaneComponent = (typeof CONTROL_PLANE_COMPONENTS)[number];

export const unitFile = (c: ControlPlaneComponent) => `/etc/systemd/system/${c}.service`;
export const unitTemplate = (c: ControlPlaneComponent) => `control-plane/${c}.service.j2`;

/** The files of the control-plane role on a host, by what they are. */
export interface ControlPlaneFiles {
  ca: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
  etcdCa: string;
  etcdClientCert: string;
  etcdClientKey: string;
  frontProxyCa: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  saKey: string;
  saPub: string;
  adminConf: string;
  controllerManagerConf: string;
  schedulerConf: string;
}

export function controlPlaneFiles(plan: readonly CertSpec[], host: string): ControlPlaneFiles {
  const p = pkiPaths(plan, host, ['control-plane']);
  return {
    ca: p.file('ca', 'cert'),
    caKey: p.file('ca', 'key'),
    apiserverCert: p.file('apiserver', 'cert'),
    apiserverKey: p.file('apiserver', 'key'),
    kubeletClientCert: p.file('apiserver-kubelet-client', 'cert'),
    kubeletClientKey: p.file('apiserver-kubelet-client', 'key'),
    etcdCa: p.file('etcd/ca', 'cert'),
    etcdClientCert: p.file('apiserver-etcd-client', 'cert'),
    etcdClientKey: p.file('apiserver-etcd-client', 'key'),
    frontProxyCa: p.file('front-proxy-ca', 'cert'),
    frontProxyClientCert: p.file('front-proxy-client', 'cert'),
    frontProxyClientKey: p.file('front-proxy-client', 'key'),
    saKey: p.file('sa', 'key'),
    saPub: p.file('sa', 'pub'),
    adminConf: p.file('admin', 'kubeconfig'),
    controllerManagerConf: p.file('controller-manager', 'kubeconfig'),
    schedulerConf: p.file('scheduler', 'kubeconfig'),
  };
}

/** The control-plane components among a PKI file's readers (from the certificate table). */
export function controlPlaneReaders(readers: readonly PkiConsumer[]): ControlPlaneComponent[] {
  return CONTROL_PLANE_COMPONENTS.filter((c) => readers.includes(c));
}

export function controlPlaneUnitVars(topology: Topology, host: ClusterHost, files: ControlPlaneFiles): Record<ControlPlaneComponent, Record<string, unknown>> {
  const v = host.vars;
  const common = { bin_dir: v.bin_dir, kube_version: v.kube_version, log_level: v.kube_log_level, files };
  return {
    'kube-apiserver': {
      ...common,
      advertise_address: host.ip,
      bind_address: '0.0.0.0',
      secure_port: v.kube_apiserver_port,
      apiserver_count: topology.controlPlane.length,
      etcd_servers: topology.etcdEndpoints,
      service_cluster_ip_range: v.kube_service_addresses,
    },
    'kube-controller-manager': {
      ...common,
      cluster_cidr: v.kube_pods_subnet,
      service_cluster_ip_range: v.kube_service_addresses,
    },
    'kube-scheduler': common,
  };
}

/** kube_oidc_* as kube-apiserver's --oidc-* flags (only with kube_oidc_auth). */
function oidcArgs(v: HostVars): Record<string, string> {
  if (!v.kube_oidc_auth) return {};
  const pairs: [string, string | undefined][] = [
    ['oidc-issuer-url', v.kube_oidc_url],
    ['oidc-client-id', v.kube_oidc_client_id],
    ['oidc-ca-file', v.kube_oidc_ca_file],
    ['oidc-username-claim', v.kube_oidc_username_claim],
    ['oidc-username-prefix', v.kube_oidc_username_prefix],
    ['oidc-groups-claim', v.kube_oidc_groups_claim],
    ['oidc-groups-prefix', v.kube_oidc_groups_prefix],
  ];
  return Object.fromEntries(pairs.filter((p): p is [string, string] => p[1] !== undefined));
}

/** kubernetes_audit as kube-apiserver's audit flags (the policy file is the role's task). */
function auditArgs(v: HostVars): Record<string, string | number> {
  if (!v.kubernetes_audit) return {};
  return {
    'audit-policy-file': v.audit_policy_file,
    'audit-log-path': v.audit_log_path,
    'audit-log-maxage': v.audit_log_maxage,
    'audit-log-maxbackup': v.audit_log_maxbackups,
    'audit-log-maxsize': v.audit_log_maxsize,
  };
}

/**
 * The flags the inventory adds to or changes on `component`, later sources winning: kprov's own
 * translations of variables (feature gates, OIDC), then kubeadm-style extra args, then custom flags.
 */
export function controlPlaneExtraArgs(v: HostVars, component: ControlPlaneComponent): Map<string, string> {
  const gates = v.kube_feature_gates.length > 0 ? { 'feature-gates': v.kube_feature_gates.join(',') } : {};
  const sources: Record<ControlPlaneComponent, ExtraArgsSource[]> = {
    'kube-apiserver': [
      { variable: 'kube_feature_gates', value: gates },
      { variable: 'kube_oidc_*', value: oidcArgs(v) },
      { variable: 'kubernetes_audit', value: auditArgs(v) },
      { variable: 'kube_kubeadm_apiserver_extra_args', value: v.kube_kubeadm_apiserver_extra_args },
      { variable: 'apiserver_custom_flags', value: v.apiserver_custom_flags },
    ],
    'kube-controller-manager': [
      { variable: 'kube_feature_gates', value: gates },
      { variable: 'kube_kubeadm_controller_extra_args', value: v.kube_kubeadm_controller_extra_args },
      { variable: 'controller_mgr_custom_flags', value: v.controller_mgr_custom_flags },
    ],
    'kube-scheduler': [
      { variable: 'kube_feature_gates', value: gates },
      { variable: 'kube_kubeadm_scheduler_extra_args', value: v.kube_kubeadm_scheduler_extra_args },
      { variable: 'scheduler_custom_flags', value: v.scheduler_custom_flags },
    ],
  };
  return collectExtraArgs(component, sources[component], acceptedKubeFlags(component, v.kube_version));
}

/** One control-plane unit, rendered with the inventory's extra flags and checked. */
export function renderControlPlaneUnit(ctx: ClusterRenderContext, host: ClusterHost, component: ControlPlaneComponent, vars: Record<string, unknown>): string {
  return renderUnit(ctx, unitTemplate(component), vars, component, controlPlaneExtraArgs(host.vars, component));
}

/** The three rendered, checked units of a control-plane host. */
export function renderControlPlaneUnits(
  ctx: ClusterRenderContext,
  topology: Topology,
  host: ClusterHost,
  plan: readonly CertSpec[],
): Record<ControlPlaneComponent, string> {
  const vars = controlPlaneUnitVars(topology, host, controlPlaneFiles(plan, host.name));
  return {
    'kube-apiserver': renderControlPlaneUnit(ctx, host, 'kube-apiserver', vars['kube-apiserver']),
    'kube-controller-manager': renderControlPlaneUnit(ctx, host, 'kube-controller-manager', vars['kube-controller-manager']),
    'kube-scheduler': renderControlPlaneUnit(ctx, host, 'kube-scheduler', vars['kube-scheduler']),
  };
}
