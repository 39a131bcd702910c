/**
 * What the controllers share about API objects: loose records (they read only a few fields and
 * write back what they were given), lists, controller owner references, and pod readiness.
 */
import type { ApiClient } from '../common/client.js';
export { sameJson } from '../common/json.js';

export type Rec = Record<string, unknown>;
export const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {});
export const arr = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(rec) : []);
export const meta = (o: Rec) => rec(o.metadata);
export const nameOf = (o: Rec) => String(meta(o).name ?? '');
export const namespaceOf = (o: Rec) => String(meta(o).namespace ?? '');
export const uidOf = (o: Rec) => String(meta(o).uid ?? '');
export const labelsOf = (o: Rec) => rec(meta(o).labels) as Record<string, string>;
export const num = (v: unknown, fallback = 0) => (typeof v === 'number' ? v : fallback);

export async function listItems(client: ApiClient, path: string): Promise<Rec[]> {
  return arr(rec(await client.call('GET', path)).items);
}

/** The ownerReference a controller puts on what it creates. */
export function controllerRef(owner: Rec, apiVersion: string, kind: string): Rec {
  return { apiVersion, kind, name: nameOf(owner), uid: uidOf(owner), controller: true, blockOwnerDeletion: true };
}

/** Whether `o` has a controller at all (an orphan may be adopted). */
export function hasController(o: Rec): boolean {
  return arr(meta(o).ownerReferences).some((r) => r.controller === true);
}

/**
 * Adopts an orphan that the owner's selector matches (v1.13's ControllerRefManager): the owner's
 * controller reference is added with the orphan's resourceVersion, so a concurrent change wins.
 * Returns the adopted object, or undefined when it changed meanwhile.
 */
export async function adopt(client: ApiClient, path: string, orphan: Rec, owner: Rec, apiVersion: string, kind: string): Promise<Rec | undefined> {
  const refs = [...arr(meta(orphan).ownerReferences), controllerRef(owner, apiVersion, kind)];
  try {
    return rec(await client.call('PATCH', path, { metadata: { ownerReferences: refs, resourceVersion: meta(orphan).resourceVersion } }, 'application/merge-patch+json'));
  } catch {
    return undefined;
  }
}

/** Whether `o` is controlled by the object with this uid. */
export function controlledBy(o: Rec, uid: string): boolean {
  return arr(meta(o).ownerReferences).some((r) => r.controller === true && r.uid === uid);
}

export function isPodActive(pod: Rec): boolean {
  const phase = rec(pod.status).phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !meta(pod).deletionTimestamp;
}

export function isPodReady(pod: Rec): boolean {
  return arr(rec(pod.status).conditions).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function groupByNamespace(items: Rec[]): Map<string, Rec[]> {
  const out = new Map<string, Rec[]>();
  for (const o of items) {
    const ns = namespaceOf(o);
    const list = out.get(ns) ?? [];
    list.push(o);
    out.set(ns, list);
  }
  return out;
}
