/**
 * What every v1.13 apiserver makes sure exists at start-up: the default, kube-system and
 * kube-public namespaces, and of the RBAC bootstrap policy the cluster-admin ClusterRole bound to
 * system:masters (the one role manifests bind to; the other bootstrap roles are enforced in code,
 * authz.ts, not stored).
 */
import { fatalError, messageOf } from '../common/errors.js';
import { StatusError, type Obj, type Registry } from './registry.js';
import { findResource } from './resources.js';

const bootstrapMeta = (name: string) => ({
  name,
  labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
  annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
});

const objects: Array<[string, Obj]> = [
  ['namespaces', { metadata: { name: 'default' } }],
  ['namespaces', { metadata: { name: 'kube-system' } }],
  ['namespaces', { metadata: { name: 'kube-public' } }],
  [
    'clusterroles',
    {
      metadata: bootstrapMeta('cluster-admin'),
      rules: [
        { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
        { verbs: ['*'], nonResourceURLs: ['*'] },
      ],
    },
  ],
  [
    'clusterrolebindings',
    {
      metadata: bootstrapMeta('cluster-admin'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:masters' }],
    },
  ],
];

export async function ensureBootstrapObjects(registry: Registry): Promise<void> {
  for (const [resource, obj] of objects) {
    try {
      await registry.create(findResource(resource)!, undefined, obj);
    } catch (err) {
      if (!(err instanceof StatusError && err.reason === 'AlreadyExists')) throw fatalError(`unable to create ${resource} ${String(obj.metadata?.name)}: ${messageOf(err)}`);
    }
  }
}
