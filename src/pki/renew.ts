/**
 * Renewal: reissues chosen leaf certificates from the same CA with the same key (as kubeadm's
 * `certs renew`), with fresh validity and the names the plan has now.
 */
import { KprovError } from '../errors.js';
import { reconcile, type EnsureOptions, type PkiReport } from './ensure.js';
import type { PkiInput } from './input.js';
import { planCertificates } from './cert-table.js';

/** `names` are spec names (`apiserver`, `etcd/server-node1`, `kubelet/node1-client` …). */
export async function renewCertificates(
  dir: string,
  input: PkiInput,
  names: readonly string[] | 'all',
  options: EnsureOptions = {},
): Promise<PkiReport> {
  const specs = planCertificates(input);
  const leaves = specs.filter((s) => s.kind === 'leaf').map((s) => s.name);
  let chosen: string[];
  if (names === 'all') chosen = leaves;
  else {
    for (const n of names) {
      const spec = specs.find((s) => s.name === n);
      if (spec === undefined) {
        throw new KprovError('pki', `no certificate named "${n}" in this cluster's PKI`, {
          location: { file: dir },
          hint: `Names: ${leaves.slice(0, 12).join(', ')}${leaves.length > 12 ? ', …' : ''}`,
        });
      }
      if (spec.kind !== 'leaf') {
        throw new KprovError('pki', `"${n}" is ${spec.kind === 'ca' ? 'a CA' : 'the service-account key pair'}; only leaf certificates are renewed`, {
          location: { file: dir },
          hint: 'Replacing it means redistributing everything that trusts it; move its files away and run the cluster playbook to do that on purpose.',
        });
      }
    }
    chosen = [...new Set(names)];
  }
  return reconcile(dir, input, options.now ?? new Date(), { renew: new Set(chosen) });
}
