/**
 * DELETE with `propagationPolicy: Orphan` (or the older `orphanDependents: true`): the dependents
 * in the object's namespace lose their ownerReference to it, so the garbage collector leaves them.
 * v1.13 does this through the `orphan` finalizer and the garbage collector; the stand-in marks the
 * owner as being deleted (with that finalizer, so no controller adopts the dependents back), strips
 * the references, then deletes it: the same outcome. Background and Foreground both leave the dependents to
 * the garbage collector (Foreground without waiting for them).
 */
import { kubeTime } from '../common/objects.js';
import type { Obj, Registry } from './registry.js';
import { findResource, type ResourceDef } from './resources.js';

/** Whether the DeleteOptions (body or query) ask for the dependents to be orphaned. */
export function wantsOrphan(body: unknown, query: URLSearchParams): boolean {
  const opts = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const policy = query.get('propagationPolicy') ?? opts.propagationPolicy;
  if (policy !== undefined && policy !== null) return policy === 'Orphan';
  return opts.orphanDependents === true || query.get('orphanDependents') === 'true';
}

const ownerRefs = (o: Obj): Array<Record<string, unknown>> => (Array.isArray(o.metadata?.ownerReferences) ? (o.metadata.ownerReferences as Array<Record<string, unknown>>) : []);

export async function orphanDependents(registry: Registry, namespace: string | undefined, owner: Obj): Promise<void> {
  const uid = owner.metadata?.uid;
  if (namespace === undefined || typeof uid !== 'string') return;
  for (const kind of ['replicasets', 'pods']) {
    const def = findResource(kind)!;
    for (const dep of (await registry.list(def, namespace)).items) {
      if (!ownerRefs(dep).some((r) => r.uid === uid)) continue;
      await registry.mutate(def, namespace, String(dep.metadata?.name), (current) => {
        const kept = ownerRefs(current).filter((r) => r.uid !== uid);
        const { ownerReferences: _dropped, ...meta } = current.metadata ?? {};
        return { ...current, metadata: kept.length > 0 ? { ...meta, ownerReferences: kept } : meta };
      });
    }
  }
}

/** DELETE with Orphan propagation: mark the owner deleted, orphan its dependents, remove it. */
export async function deleteOrphaning(registry: Registry, def: ResourceDef, namespace: string | undefined, name: string): Promise<void> {
  const marked = await registry.mutate(def, namespace, name, (o) => ({
    ...o,
    metadata: { ...o.metadata, deletionTimestamp: o.metadata?.deletionTimestamp ?? kubeTime(), deletionGracePeriodSeconds: 0, finalizers: ['orphan'] },
  }));
  await orphanDependents(registry, namespace, marked);
  await registry.delete(def, namespace, name);
}
