/**
 * The ServiceAccount admission plugin (v1.13, on by default): a pod gets `serviceAccountName:
 * default` when it names none; the service account must exist and, while it is to be mounted,
 * have a token secret (else the v1.13 "No API token found" answer, which clients retry); the
 * token secret is added as a volume `<sa>-token-xxxxx` mounted read-only at
 * /var/run/secrets/kubernetes.io/serviceaccount in every container, unless
 * automountServiceAccountToken is false on the pod or (when the pod does not say) on the account.
 * Mirror pods are left as they are, but may not name a service account or mount secrets.
 */
import { StatusError, type Obj, type Registry } from './registry.js';
import { findResource } from './resources.js';

export const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {});
const arr = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(rec) : []);

const forbidden = (name: string, message: string) => new StatusError(403, 'Forbidden', `pods "${name}" is forbidden: ${message}`, { name, kind: 'pods' });

/** The name of a token secret of this account that exists, as the plugin picks it. */
async function tokenSecretOf(registry: Registry, namespace: string, sa: Obj): Promise<string | undefined> {
  const secrets = findResource('secrets')!;
  for (const ref of arr(sa.secrets)) {
    if (typeof ref.name !== 'string') continue;
    const secret = await registry.lookup(secrets, namespace, ref.name).catch(() => undefined);
    if (!secret || secret.type !== 'kubernetes.io/service-account-token') continue;
    const ann = rec(secret.metadata?.annotations);
    if (ann['kubernetes.io/service-account.name'] === sa.metadata?.name && ann['kubernetes.io/service-account.uid'] === sa.metadata?.uid) return ref.name;
  }
  return undefined;
}

/** Adds the token volume and its mounts to a pod spec (nothing when a volume already mounts it). */
export function mountToken(spec: Rec, secretName: string): Rec {
  const volumes = arr(spec.volumes);
  const mount = { name: secretName, readOnly: true, mountPath: TOKEN_MOUNT_PATH };
  const withMount = (c: Rec) => (arr(c.volumeMounts).some((m) => m.mountPath === TOKEN_MOUNT_PATH) ? c : { ...c, volumeMounts: [...arr(c.volumeMounts), mount] });
  return {
    ...spec,
    volumes: volumes.some((v) => v.name === secretName) ? volumes : [...volumes, { name: secretName, secret: { secretName, defaultMode: 420 } }],
    containers: arr(spec.containers).map(withMount),
    ...(Array.isArray(spec.initContainers) ? { initContainers: arr(spec.initContainers).map(withMount) } : {}),
  };
}

export async function admitServiceAccount(registry: Registry, namespace: string, pod: Obj): Promise<Obj> {
  const name = String(pod.metadata?.name ?? pod.metadata?.generateName ?? '');
  const spec = rec(pod.spec);
  if (MIRROR_ANNOTATION in rec(pod.metadata?.annotations)) {
    if (typeof spec.serviceAccountName === 'string' && spec.serviceAccountName !== '' && spec.serviceAccountName !== 'default') throw forbidden(name, 'a mirror pod may not reference service accounts');
    if (arr(spec.volumes).some((v) => v.secret !== undefined)) throw forbidden(name, 'a mirror pod may not reference secrets');
    return pod;
  }
  const saName = typeof spec.serviceAccountName === 'string' && spec.serviceAccountName !== '' ? spec.serviceAccountName : 'default';
  const sa = await registry.lookup(findResource('serviceaccounts')!, namespace, saName).catch(() => undefined);
  if (!sa) throw forbidden(name, `error looking up service account ${namespace}/${saName}: serviceaccount "${saName}" not found`);
  const automount = typeof spec.automountServiceAccountToken === 'boolean' ? spec.automountServiceAccountToken : sa.automountServiceAccountToken !== false;
  let next: Rec = { ...spec, serviceAccountName: saName, serviceAccount: saName };
  if (automount) {
    const secret = await tokenSecretOf(registry, namespace, sa);
    if (secret === undefined) {
      throw new StatusError(500, 'ServerTimeout', `No API token found for service account "${saName}", retry after the token is automatically created and added to the service account`, {
        name: 'create pod',
        kind: 'serviceaccounts',
        retryAfterSeconds: 1,
      });
    }
    next = mountToken(next, secret);
  }
  if (arr(next.imagePullSecrets).length === 0 && arr(sa.imagePullSecrets).length > 0) next.imagePullSecrets = sa.imagePullSecrets;
  return { ...pod, spec: next };
}
