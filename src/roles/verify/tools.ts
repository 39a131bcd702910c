/**
 * The command lines verification runs on hosts: the real etcdctl with the etcd health-check
 * client certificate, and the real kubectl with the admin kubeconfig, both where the etcd and
 * control-plane roles put them (binaries in bin_dir; certificate and kubeconfig paths from the
 * same certificate plan the roles push files from, so the two can never disagree).
 */
import path from 'node:path';
import { pkiPaths, pkiPlanOf } from '../../cluster/pki.js';
import type { ClusterHost, EtcdMember, Topology } from '../../cluster/topology.js';
import { KprovError } from '../../errors.js';
import type { ExecResult, RemoteHost } from '../../ssh/types.js';
import type { ProbeCommand } from '../../engine/contract.js';

/** Where one host keeps what verification uses. */
export interface VerifyPaths {
  etcdctl: string;
  kubectl: string;
  /** Only on etcd hosts. */
  etcd?: { ca: string; cert: string; key: string };
  /** Only on control-plane hosts. */
  adminConf?: string;
}

export function verifyPaths(topology: Topology, host: ClusterHost): VerifyPaths {
  const bin = host.vars.bin_dir;
  const paths: VerifyPaths = { etcdctl: path.posix.join(bin, 'etcdctl'), kubectl: path.posix.join(bin, 'kubectl') };
  const plan = pkiPlanOf(topology);
  if (host.isEtcd) {
    const etcd = pkiPaths(plan, host.name, ['etcd']);
    paths.etcd = { ca: etcd.file('etcd/ca', 'cert'), cert: etcd.file('etcd/healthcheck-client', 'cert'), key: etcd.file('etcd/healthcheck-client', 'key') };
  }
  if (host.isControlPlane) paths.adminConf = pkiPaths(plan, host.name, ['control-plane']).file('admin', 'kubeconfig');
  return paths;
}

/** etcdctl asking one member for its health over TLS, as the health-check client. */
export function etcdHealthProbe(paths: VerifyPaths, member: EtcdMember): ProbeCommand {
  if (!paths.etcd) throw new KprovError('internal', `${member.host.name} is not an etcd host`);
  return {
    argv: [
      paths.etcdctl,
      `--endpoints=${member.clientUrl}`,
      `--cacert=${paths.etcd.ca}`,
      `--cert=${paths.etcd.cert}`,
      `--key=${paths.etcd.key}`,
      '--dial-timeout=3s',
      '--command-timeout=5s',
      'endpoint',
      'health',
    ],
    // etcd 3.2/3.3 etcdctl speak the v2 API unless told otherwise.
    env: { ETCDCTL_API: '3' },
    timeoutMs: COMMAND_TIMEOUT_MS,
    whenActive: 'etcd.service',
  };
}

/** Bound on each command verification runs (the wait around it has its own bound). */
export const COMMAND_TIMEOUT_MS = 15_000;

/** kubectl with the admin kubeconfig the control-plane role put on the host. */
export function kubectlArgv(paths: VerifyPaths, args: readonly string[]): string[] {
  if (!paths.adminConf) throw new KprovError('internal', 'kubectl runs only on control-plane hosts');
  return [paths.kubectl, `--kubeconfig=${paths.adminConf}`, '--request-timeout=5s', ...args];
}

/** Runs kubectl on the host with the admin kubeconfig (stdin for `-f -`), bounded. */
export function execKubectl(host: RemoteHost, paths: VerifyPaths, args: readonly string[], options: { timeoutMs: number; stdin?: string }): Promise<ExecResult> {
  return host.exec(kubectlArgv(paths, args), { timeoutMs: options.timeoutMs, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
}

/** A kubectl read through this host's API server, read ahead only while it runs. */
export function kubectlProbe(paths: VerifyPaths, args: readonly string[]): ProbeCommand {
  return { argv: kubectlArgv(paths, args), timeoutMs: COMMAND_TIMEOUT_MS, whenActive: 'kube-apiserver.service' };
}

/** `https://IP:PORT` of this host's own API server, at the address it advertises. */
export function apiserverUrl(host: ClusterHost): string {
  return `https://${host.ip.includes(':') ? `[${host.ip}]` : host.ip}:${host.vars.kube_apiserver_port}`;
}

/** GET /healthz of this host's API server, CA-verified by kubectl against admin.conf's CA. */
export function apiserverHealthzProbe(paths: VerifyPaths, host: ClusterHost): ProbeCommand {
  return kubectlProbe(paths, [`--server=${apiserverUrl(host)}`, 'get', '--raw', '/healthz']);
}

/** `exited with 1: <its last line of output>`, one line for a failure message. */
export function outcome(r: ExecResult): string {
  const text = (r.stderr.trim() !== '' ? r.stderr : r.stdout).trim();
  const last = text.split('\n').at(-1)?.trim() ?? '';
  return `exited with ${r.code}${last ? `: ${last}` : ''}`;
}

/** The last lines of a command's output, for the detail under a failure. */
export function outputTail(r: ExecResult, count = 6): string[] {
  const text = `${r.stdout}\n${r.stderr}`.trim();
  return text === '' ? [] : text.split('\n').slice(-count);
}
