/**
 * The garbage collector, as far as `kubectl delete deployment` needs it (background propagation):
 * a ReplicaSet or Pod whose every ownerReference names an object that no longer exists (by uid) is
 * deleted. Owners are looked up among the kinds the stand-in serves.
 */
import type { ApiClient } from '../common/client.js';
import { ApiError } from '../common/client.js';
import type { Logger } from '../common/klog.js';
import { runController, controllerManagerResyncMs, type ControllerLoop } from '../common/watch-loop.js';
import { arr, listItems, meta, nameOf, namespaceOf, type Rec } from './objects.js';

const ownerPaths: Record<string, string> = {
  'apps/v1/Deployment': '/apis/apps/v1/deployments',
  'apps/v1/ReplicaSet': '/apis/apps/v1/replicasets',
  'v1/Pod': '/api/v1/pods',
  'v1/Service': '/api/v1/services',
};

const dependents: Array<{ path: string; item: (ns: string, name: string) => string }> = [
  { path: '/apis/apps/v1/replicasets', item: (ns, name) => `/apis/apps/v1/namespaces/${ns}/replicasets/${name}` },
  { path: '/api/v1/pods', item: (ns, name) => `/api/v1/namespaces/${ns}/pods/${name}` },
];

/** Whether every owner of `o` is gone, given the uids that exist (unknown owner kinds count as present). */
export function orphaned(o: Rec, existing: ReadonlySet<string>, knownKinds: ReadonlySet<string>): boolean {
  const refs = arr(meta(o).ownerReferences);
  if (refs.length === 0) return false;
  return refs.every((r) => knownKinds.has(`${String(r.apiVersion)}/${String(r.kind)}`) && !existing.has(String(r.uid)));
}

export function startGarbageCollector(client: ApiClient, log: Logger): ControllerLoop {
  const known = new Set(Object.keys(ownerPaths));
  return runController('garbagecollector', client, log, ['/apis/apps/v1/deployments', '/apis/apps/v1/replicasets'], async () => {
    // Dependents first: an owner made after this list is then in the owners' list, never missed.
    const candidates = await Promise.all(dependents.map((d) => listItems(client, d.path)));
    const lists = await Promise.all(Object.values(ownerPaths).map((p) => listItems(client, p)));
    const existing = new Set(lists.flat().map((o) => String(meta(o).uid)));
    for (const [i, dep] of dependents.entries()) {
      for (const o of candidates[i]!) {
        if (meta(o).deletionTimestamp || !orphaned(o, existing, known)) continue;
        await client.call('DELETE', dep.item(namespaceOf(o), nameOf(o)), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }).catch((err: unknown) => {
          if (!(err instanceof ApiError && err.status === 404)) throw err;
        });
        log.info(`garbage collector: deleted ${dep.path.split('/').at(-1)} ${namespaceOf(o)}/${nameOf(o)}: its owner is gone`);
      }
    }
  }, controllerManagerResyncMs());
}
