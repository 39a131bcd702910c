/**
 * The pod operations that are not plain storage: binding to a node (the scheduler's
 * pods/binding), graceful deletion (a bound, running pod is marked with deletionTimestamp and the
 * kubelet removes it once its containers stopped; grace 0 or an unbound pod goes at once), and
 * eviction (policy/v1beta1, a graceful deletion with its options).
 */
import { z } from 'zod';
import { kubeTime } from '../common/objects.js';
import { StatusError, type Obj, type Registry } from './registry.js';
import type { ResourceDef } from './resources.js';
import { podSpecOf, podTerminated } from './pods.js';

const deleteOptionsSchema = z.looseObject({
  gracePeriodSeconds: z.number().int().nullish(),
  preconditions: z.looseObject({ uid: z.string().nullish() }).nullish(),
});
export type DeleteOptions = z.infer<typeof deleteOptionsSchema>;

export function deleteOptionsFrom(body: unknown, query: URLSearchParams): DeleteOptions {
  const parsed = deleteOptionsSchema.safeParse(body ?? {});
  if (!parsed.success) throw new StatusError(400, 'BadRequest', `invalid DeleteOptions: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const fromQuery = query.get('gracePeriodSeconds');
  if (fromQuery !== null && fromQuery !== '') {
    const n = Number(fromQuery);
    if (!Number.isInteger(n)) throw new StatusError(400, 'BadRequest', `invalid gracePeriodSeconds: ${fromQuery}`);
    return { ...parsed.data, gracePeriodSeconds: n };
  }
  return parsed.data;
}

const bindingSchema = z.looseObject({ target: z.looseObject({ kind: z.string().optional(), name: z.string() }) });

const meta = (o: Obj) => (o.metadata ?? {}) as Record<string, unknown>;

/** POST pods/{name}/binding: sets spec.nodeName once, and the PodScheduled condition. */
export async function bindPod(registry: Registry, def: ResourceDef, namespace: string | undefined, name: string, body: unknown): Promise<void> {
  const parsed = bindingSchema.safeParse(body);
  if (!parsed.success || parsed.data.target.name === '') throw new StatusError(422, 'Invalid', `Binding "${name}" is invalid: target.name: Required value`);
  const node = parsed.data.target.name;
  await registry.mutate(def, namespace, name, (pod) => {
    if (meta(pod).deletionTimestamp) throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is being deleted, cannot be assigned to a host`);
    const current = podSpecOf(pod).nodeName;
    if (current) throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${current}"`);
    const status = (pod.status ?? {}) as Record<string, unknown>;
    const conditions = (Array.isArray(status.conditions) ? status.conditions : []) as Array<Record<string, unknown>>;
    const scheduled = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: kubeTime() };
    return {
      ...pod,
      spec: { ...(pod.spec as Record<string, unknown>), nodeName: node },
      status: { ...status, conditions: [...conditions.filter((c) => c.type !== 'PodScheduled'), scheduled] },
    };
  });
}

function checkPreconditions(pod: Obj, name: string, opts: DeleteOptions): void {
  const uid = opts.preconditions?.uid;
  if (uid && uid !== meta(pod).uid) {
    throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on pods "${name}": Precondition failed: UID in precondition: ${uid}, UID in object meta: ${String(meta(pod).uid)}`, { name, kind: 'pods' });
  }
}

/**
 * DELETE of a pod. Returns the pod marked for deletion when it now waits for its kubelet, or
 * undefined when it was removed.
 */
export async function deletePod(registry: Registry, def: ResourceDef, namespace: string | undefined, name: string, opts: DeleteOptions): Promise<Obj | undefined> {
  const pod = await registry.get(def, namespace, name);
  checkPreconditions(pod, name, opts);
  const spec = podSpecOf(pod);
  const grace = opts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
  if (grace <= 0 || !spec.nodeName || podTerminated(pod)) {
    await registry.delete(def, namespace, name);
    return undefined;
  }
  return registry.mutate(def, namespace, name, (current) => {
    checkPreconditions(current, name, opts);
    const m = meta(current);
    const pending = typeof m.deletionGracePeriodSeconds === 'number' ? m.deletionGracePeriodSeconds : undefined;
    // A second delete may shorten the grace period, never lengthen it.
    if (pending !== undefined && pending <= grace) return current;
    const at = new Date(Date.now() + grace * 1000);
    return { ...current, metadata: { ...m, deletionTimestamp: kubeTime(at), deletionGracePeriodSeconds: grace } };
  });
}

const evictionSchema = z.looseObject({ deleteOptions: deleteOptionsSchema.nullish() });

/** POST pods/{name}/eviction: no PodDisruptionBudgets exist here, so every eviction is allowed. */
export async function evictPod(registry: Registry, def: ResourceDef, namespace: string | undefined, name: string, body: unknown): Promise<void> {
  const parsed = evictionSchema.safeParse(body ?? {});
  if (!parsed.success) throw new StatusError(400, 'BadRequest', 'invalid Eviction');
  await deletePod(registry, def, namespace, name, parsed.data.deleteOptions ?? {});
}
