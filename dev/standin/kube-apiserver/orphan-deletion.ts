/**
 * DELETE with `propagationPolicy: Orphan` (or the older `orphanDependents: true`): the dependents
 * in the object's namespace lose their ownerReference to it, so the garbage collector leaves them.
 * v1.13 does this through the `orphan` finalizer and the garbage collector; the stand-in does it
 * before the delete, with the same outcome. Background and Foreground both leave the dependents to
 * the garbage collector (Foreground without waiting for them).
 */
import type { Obj, Registry } from './registry.js';
import { findResource } from './resources.js';

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
