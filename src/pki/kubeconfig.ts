/**
 * Kubeconfig files with embedded credentials, in the shape kubeadm writes them.
 */
import path from 'node:path';
import { stringify } from 'yaml';
import { KprovError } from '../errors.js';
import type { PkiHost, PkiInput } from './input.js';
import { MODE } from './layout.js';
import type { CertSpec, HostRole, KubeconfigSpec, PkiConsumer } from './cert-table.js';
import { planCertificates } from './cert-table.js';
import { readIfExists } from './store.js';

export interface KubeconfigParams {
  clusterName: string;
  server: string;
  caPem: string;
  /** The user entry's name; kubeadm uses the certificate's CN. */
  user: string;
  certPem: string;
  keyPem: string;
}

const b64 = (pem: string) => Buffer.from(pem, 'utf8').toString('base64');

/** A v1 Config with one cluster, one user and one context, credentials embedded as base64. */
export function renderKubeconfig(p: KubeconfigParams): string {
  const context = `${p.user}@${p.clusterName}`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: p.clusterName, cluster: { 'certificate-authority-data': b64(p.caPem), server: p.server } }],
    contexts: [{ name: context, context: { cluster: p.clusterName, user: p.user } }],
    'current-context': context,
    preferences: {},
    users: [{ name: p.user, user: { 'client-certificate-data': b64(p.certPem), 'client-key-data': b64(p.keyPem) } }],
  };
  // lineWidth 0: base64 blobs stay on one line, as kubectl writes them.
  return stringify(doc, { lineWidth: 0 });
}

/**
 * Where components on control-plane hosts (controller-manager, scheduler, admin.conf there) reach
 * the API: 'localhost' = https://127.0.0.1:<port> (default; needs no load balancer), 'endpoint' =
 * input.apiserverEndpoint, 'host-address' = the host's own ip/access_ip/address.
 */
export type ControlPlaneServer = 'localhost' | 'endpoint' | 'host-address';

export interface KubeconfigOptions {
  controlPlaneServer?: ControlPlaneServer;
  /** Reads a file of the PKI by its path relative to the PKI directory (default: from `dir`). */
  read?: PkiReader;
}

/** A PKI file's bytes by its path relative to the PKI directory, undefined when absent. */
export type PkiReader = (relativePath: string) => Promise<Buffer | undefined>;

export function dirReader(dir: string): PkiReader {
  return (rel) => readIfExists(path.join(dir, rel));
}

export interface RenderedKubeconfig {
  /** File name in the set: admin.conf, controller-manager.conf, kubelet-<node>.conf … */
  file: string;
  /** The identity (spec name) whose certificate it carries. */
  spec: string;
  content: string;
}

export interface HostKubeconfig extends RenderedKubeconfig {
  path: string;
  mode: number;
  /** The services on the host that read it (see the certificate table). */
  readers: readonly PkiConsumer[];
}

function hostUrl(h: PkiHost, port: number): string {
  const addr = h.accessIp ?? h.ip ?? h.address;
  return `https://${addr.includes(':') ? `[${addr}]` : addr}:${port}`;
}

function serverFor(input: PkiInput, k: KubeconfigSpec, mode: ControlPlaneServer, host?: PkiHost): string {
  if (k.server === 'endpoint' || mode === 'endpoint') return input.apiserverEndpoint;
  if (mode === 'localhost') return `https://127.0.0.1:${input.apiserverPort}`;
  if (host === undefined) throw new KprovError('internal', `${k.file}: 'host-address' needs a control-plane host`);
  return hostUrl(host, input.apiserverPort);
}

/** With a node-local API proxy, the kubelet's and kube-proxy's server on this host (see PkiInput). */
function nodeLocalServer(input: PkiInput, k: KubeconfigSpec, cpHost: PkiHost | undefined): string | undefined {
  if (k.server !== 'endpoint' || input.nodeLocalApiPort === undefined) return undefined;
  return `https://127.0.0.1:${cpHost ? input.apiserverPort : input.nodeLocalApiPort}`;
}

async function readPem(dir: string, rel: string, read: PkiReader): Promise<string> {
  const data = await read(rel);
  if (data === undefined) {
    throw new KprovError('pki', `${rel} is missing from the PKI`, {
      location: { file: path.join(dir, rel) },
      hint: 'Create the PKI first (it is made by the cluster playbook).',
    });
  }
  return data.toString('utf8');
}

async function render(dir: string, input: PkiInput, spec: CertSpec, server: string, read: PkiReader = dirReader(dir)): Promise<string> {
  const [caPem, certPem, keyPem] = await Promise.all([
    readPem(dir, `${spec.issuer}.crt`, read),
    readPem(dir, spec.files.cert!, read),
    readPem(dir, spec.files.key, read),
  ]);
  return renderKubeconfig({ clusterName: input.clusterName, server, caPem, user: spec.commonName, certPem, keyPem });
}

/**
 * The whole set from the PKI directory: admin.conf, controller-manager.conf, scheduler.conf,
 * kube-proxy.conf and kubelet-<node>.conf. admin.conf always points at the endpoint (it is the
 * user's); 'host-address' is per host, so it is not accepted here (use kubeconfigsForHost).
 */
export async function kubeconfigSet(
  dir: string,
  input: PkiInput,
  options: { controlPlaneServer?: 'localhost' | 'endpoint'; read?: PkiReader } = {},
): Promise<RenderedKubeconfig[]> {
  const mode = options.controlPlaneServer ?? 'localhost';
  const specs = planCertificates(input).filter((s) => s.kubeconfig !== undefined);
  return Promise.all(
    specs.map(async (s) => {
      const k = s.kubeconfig!;
      const server = s.name === 'admin' ? input.apiserverEndpoint : serverFor(input, k, mode);
      return { file: k.file, spec: s.name, content: await render(dir, input, s, server, options.read) };
    }),
  );
}

/** The kubeconfigs one host needs for its roles, with their paths on the host (mode 0600). */
export async function kubeconfigsForHost(
  dir: string,
  input: PkiInput,
  hostName: string,
  roles: readonly HostRole[],
  options: KubeconfigOptions = {},
): Promise<HostKubeconfig[]> {
  const mode = options.controlPlaneServer ?? 'localhost';
  const cpHost = input.controlPlane.find((h) => h.name === hostName);
  if (roles.includes('control-plane') && cpHost === undefined) {
    throw new KprovError('pki', `host ${hostName} has the control-plane role but is not in the PKI input's controlPlane list`, {
      host: hostName,
    });
  }
  const out: HostKubeconfig[] = [];
  for (const s of planCertificates(input)) {
    const k = s.kubeconfig;
    if (k === undefined) continue;
    for (const r of k.recipients) {
      if (!roles.includes(r.role) || (r.host !== undefined && r.host !== hostName)) continue;
      const server = nodeLocalServer(input, k, cpHost) ?? serverFor(input, k, mode, cpHost);
      out.push({ file: k.file, spec: s.name, path: r.remotePath, mode: MODE.kubeconfig, readers: r.readers, content: await render(dir, input, s, server, options.read) });
    }
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}
