/**
 * The control plane as kubeadm v1.13's static pods (control_plane_deployment_type: static_pod):
 * each component's manifest carries exactly the command line of its systemd unit (rendered and
 * flag-checked as in host mode: one source of flags for both modes), kubeadm's image name
 * `{{ kube_image_repo }}/<component>:{{ kube_version }}`, its liveness probe and CPU request, and
 * a host path for every file its flags name. Pure: rendering only.
 */
import path from 'node:path';
import { execStartLines, splitCommandLine } from '../../cluster/flags.js';
import type { ClusterHost } from '../../cluster/topology.js';
import type { ClusterRenderContext } from '../../cluster/run.js';
import { KprovError } from '../../errors.js';
import type { HostVars } from '../../inventory/schema.js';
import type { ControlPlaneComponent } from './units.js';


/** kubeadm v1.13's CPU requests. */
const CPU_REQUEST: Record<ControlPlaneComponent, string> = { 'kube-apiserver': '250m', 'kube-controller-manager': '200m', 'kube-scheduler': '100m' };

export interface HostPathVolume {
  name: string;
  path: string;
  type: 'DirectoryOrCreate' | 'File' | 'FileOrCreate';
  readOnly: boolean;
}

/** The unit's command line as a container command: the program by name (the image has it on PATH), then the flags. */
export function commandOf(unit: string, component: ControlPlaneComponent): string[] {
  const lines = execStartLines(unit);
  if (lines.length !== 1) throw new KprovError('internal', `${component}: its unit has ${lines.length} ExecStart lines, expected one`);
  const [program, ...args] = splitCommandLine(lines[0]!);
  if (path.posix.basename(program ?? '') !== component) throw new KprovError('internal', `${component}: its unit runs ${program ?? 'nothing'}`);
  return [component, ...args];
}

/** Writable paths: the audit log's directory (the component writes there). */
const WRITABLE_FLAGS = new Set(['audit-log-path']);

/**
 * A host path for every absolute path a flag names: the certificate directories whole (as kubeadm
 * mounts /etc/kubernetes/pki), the audit log's directory writable, any other file by itself; and
 * /etc/ssl/certs, as kubeadm mounts it (the system CAs, e.g. for an OIDC issuer).
 */
export function volumesOf(command: readonly string[], v: HostVars): HostPathVolume[] {
  const dirs = [
    { name: 'k8s-certs', path: v.kube_cert_dir },
    { name: 'etcd-certs', path: v.etcd_cert_dir },
  ];
  const out = new Map<string, HostPathVolume>();
  const add = (vol: HostPathVolume) => {
    if (!out.has(vol.path)) out.set(vol.path, vol);
  };
  add({ name: 'ca-certs', path: '/etc/ssl/certs', type: 'DirectoryOrCreate', readOnly: true });
  for (const arg of command.slice(1)) {
    const m = /^--([^=]+)=(\/[^,]*)$/.exec(arg);
    if (!m) continue;
    const [, flag, file] = m as unknown as [string, string, string];
    if (WRITABLE_FLAGS.has(flag)) {
      add({ name: 'audit-log', path: path.posix.dirname(file), type: 'DirectoryOrCreate', readOnly: false });
      continue;
    }
    const dir = dirs.find((d) => file === d.path || file.startsWith(`${d.path}/`));
    if (dir) add({ ...dir, type: 'DirectoryOrCreate', readOnly: true });
    else add({ name: path.posix.basename(file).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 63), path: file, type: 'File', readOnly: true });
  }
  return [...out.values()];
}

/** kubeadm v1.13's liveness probes: the API server over HTTPS at its advertise address, the others on 127.0.0.1. */
function probeOf(component: ControlPlaneComponent, host: ClusterHost): { host: string; port: number; scheme: 'HTTP' | 'HTTPS' } {
  if (component === 'kube-apiserver') return { host: host.ip, port: host.vars.kube_apiserver_port, scheme: 'HTTPS' };
  return { host: '127.0.0.1', port: component === 'kube-controller-manager' ? 10252 : 10251, scheme: 'HTTP' };
}

export const imageOf = (v: HostVars, c: ControlPlaneComponent) => `${v.kube_image_repo}/${c}:${v.kube_version}`;

/** One component's manifest, from its rendered, flag-checked unit. */
export function renderStaticPod(ctx: ClusterRenderContext, host: ClusterHost, component: ControlPlaneComponent, unit: string): string {
  const command = commandOf(unit, component);
  return ctx.render('control-plane/static-pod.yaml.j2', {
    component,
    command,
    image: imageOf(host.vars, component),
    probe: probeOf(component, host),
    cpu_request: CPU_REQUEST[component],
    volumes: volumesOf(command, host.vars),
  });
}
