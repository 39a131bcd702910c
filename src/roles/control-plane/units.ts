/**
 * The control plane's systemd units: kube-apiserver, kube-controller-manager and kube-scheduler,
 * with kubeadm v1.13's flags (plus Kubespray's where kubeadm has none), rendered from templates/
 * and checked against the v1.13 flag list. Pure: everything comes from the topology and the PKI plan.
 */
import { renderUnit } from '../../cluster/flags.js';
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

/** The three rendered, checked units of a control-plane host. */
export function renderControlPlaneUnits(
  ctx: ClusterRenderContext,
  topology: Topology,
  host: ClusterHost,
  plan: readonly CertSpec[],
): Record<ControlPlaneComponent, string> {
  const vars = controlPlaneUnitVars(topology, host, controlPlaneFiles(plan, host.name));
  return {
    'kube-apiserver': renderUnit(ctx, unitTemplate('kube-apiserver'), vars['kube-apiserver'], 'kube-apiserver'),
    'kube-controller-manager': renderUnit(ctx, unitTemplate('kube-controller-manager'), vars['kube-controller-manager'], 'kube-controller-manager'),
    'kube-scheduler': renderUnit(ctx, unitTemplate('kube-scheduler'), vars['kube-scheduler'], 'kube-scheduler'),
  };
}
