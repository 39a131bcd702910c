/**
 * Which PKI files each host receives. The plan lists recipients; this module applies them and
 * enforces the rule that no private key of a CA leaves the inventory except the Kubernetes CA key
 * to control-plane hosts (kube-controller-manager signs kubelet CSRs with it). Workers and etcd
 * hosts never receive any CA key, whatever the plan says.
 */
import { KprovError } from '../errors.js';
import type { CertSpec, FilePart, HostRole, PkiConsumer } from './cert-table.js';

export interface HostFile {
  /** Absolute path on the host. */
  path: string;
  mode: number;
  /** The local file, relative to the PKI directory. */
  sourceFile: string;
  /** The spec it comes from, and which of its files. */
  spec: string;
  part: FilePart;
  /** The services on the host that read it (see the certificate table). */
  readers: readonly PkiConsumer[];
}

/** The only CA whose key may be copied to a host, and the only role that may receive it. */
const SHAREABLE_CA_KEY = { spec: 'ca', role: 'control-plane' as HostRole };

/** Throws unless `spec`'s `part` may go to a host with `role`. */
export function assertMayReceive(spec: CertSpec, part: FilePart, role: HostRole, hostName: string): void {
  if (spec.kind !== 'ca' || part !== 'key') return;
  if (spec.name === SHAREABLE_CA_KEY.spec && role === SHAREABLE_CA_KEY.role) return;
  throw new KprovError('internal', `refusing to copy the ${spec.description} private key to ${hostName} (${role})`, {
    host: hostName,
  });
}

/**
 * The files `hostName` needs for `roles`. Per-host certificates (etcd members, kubelets) go only
 * to their own host; a host whose role needs one that the plan does not have is an error.
 */
export function filesForHost(plan: readonly CertSpec[], hostName: string, roles: readonly HostRole[]): HostFile[] {
  const byPath = new Map<string, HostFile>();
  const ownSpecs = new Set<HostRole>();
  for (const spec of plan) {
    for (const r of spec.recipients) {
      if (!roles.includes(r.role)) continue;
      if (r.host !== undefined && r.host !== hostName) continue;
      if (r.host !== undefined) ownSpecs.add(r.role);
      for (const d of r.deliveries) {
        assertMayReceive(spec, d.part, r.role, hostName);
        const sourceFile = spec.files[d.part];
        if (sourceFile === undefined) {
          throw new KprovError('internal', `${spec.name} has no ${d.part} file to copy`, { host: hostName });
        }
        const existing = byPath.get(d.remotePath);
        if (existing && existing.sourceFile !== sourceFile) {
          throw new KprovError('internal', `${d.remotePath} would come from both ${existing.sourceFile} and ${sourceFile}`, {
            host: hostName,
          });
        }
        const readers = [...new Set([...(existing?.readers ?? []), ...d.readers])];
        byPath.set(d.remotePath, { path: d.remotePath, mode: d.mode, sourceFile, spec: spec.name, part: d.part, readers });
      }
    }
  }
  for (const role of ['etcd', 'node'] as const) {
    if (roles.includes(role) && !ownSpecs.has(role)) {
      throw new KprovError('pki', `host ${hostName} has the ${role} role but the PKI has no ${role} certificate for it`, {
        host: hostName,
        hint: `Add ${hostName} to the PKI input's ${role === 'etcd' ? 'etcd' : 'nodes'} list.`,
      });
    }
  }
  return [...byPath.values()].sort((a, b) => a.path.localeCompare(b.path));
}
