/**
 * The replicaset controller (v1.13 pkg/controller/replicaset, simplified): each ReplicaSet owns
 * the active pods it controls; too few and it creates pods `<rs>-xxxxx` from its template with a
 * controller ownerReference, too many and it deletes the least useful ones first (unbound, then
 * pending, then not ready, then the newest); status replicas, fullyLabeledReplicas,
 * readyReplicas, availableReplicas and observedGeneration, written when they change.
 */
import type { ApiClient } from '../common/client.js';
import { ApiError } from '../common/client.js';
import type { Logger } from '../common/klog.js';
import { selectorMatches, type LabelSelector } from '../common/label-selector.js';
import { runController, controllerManagerResyncMs, type ControllerLoop } from '../common/watch-loop.js';
import { adopt, controlledBy, controllerRef, groupByNamespace, hasController, isPodActive, isPodReady, labelsOf, listItems, meta, nameOf, namespaceOf, num, rec, uidOf, type Rec } from './objects.js';

/** The pod a ReplicaSet creates from its template. */
export function podFromTemplate(rs: Rec): Rec {
  const template = rec(rec(rs.spec).template);
  const tmeta = rec(template.metadata);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${nameOf(rs)}-`,
      namespace: namespaceOf(rs),
      labels: rec(tmeta.labels),
      ...(tmeta.annotations ? { annotations: tmeta.annotations } : {}),
      ownerReferences: [controllerRef(rs, 'apps/v1', 'ReplicaSet')],
    },
    spec: rec(template.spec),
  };
}

/** Which `count` pods go first when scaling down (v1.13's ActivePods order, simplified). */
export function podsToDelete(pods: Rec[], count: number): Rec[] {
  const phaseRank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
  const key = (p: Rec) => [
    rec(p.spec).nodeName ? 1 : 0,
    phaseRank[String(rec(p.status).phase)] ?? 0,
    isPodReady(p) ? 1 : 0,
    -Date.parse(String(meta(p).creationTimestamp ?? '')) || 0,
  ];
  return [...pods]
    .sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
      return nameOf(a) < nameOf(b) ? 1 : -1;
    })
    .slice(0, count);
}

export function replicaSetStatus(rs: Rec, owned: Rec[]): Rec {
  const active = owned.filter(isPodActive);
  const templateLabels = rec(rec(rec(rec(rs.spec).template).metadata).labels) as Record<string, string>;
  const ready = active.filter(isPodReady).length;
  const previous = rec(rs.status);
  return {
    replicas: active.length,
    fullyLabeledReplicas: active.filter((p) => Object.entries(templateLabels).every(([k, v]) => labelsOf(p)[k] === v)).length,
    readyReplicas: ready,
    // minReadySeconds is not looked at: a ready pod counts as available at once.
    availableReplicas: ready,
    observedGeneration: num(meta(rs).generation, 1),
    ...(previous.conditions ? { conditions: previous.conditions } : {}),
  };
}

async function syncReplicaSet(client: ApiClient, log: Logger, rs: Rec, pods: Rec[]): Promise<void> {
  const ns = namespaceOf(rs);
  const spec = rec(rs.spec);
  const selector = rec(spec.selector) as LabelSelector;
  const owned = pods.filter((p) => controlledBy(p, uidOf(rs)) && selectorMatches(selector, labelsOf(p)));
  // Pods that match the selector and have no controller are adopted (v1.13's ControllerRefManager).
  if (!meta(rs).deletionTimestamp) {
    for (const orphan of pods.filter((p) => !hasController(p) && isPodActive(p) && selectorMatches(selector, labelsOf(p)))) {
      const adopted = await adopt(client, `/api/v1/namespaces/${ns}/pods/${nameOf(orphan)}`, orphan, rs, 'apps/v1', 'ReplicaSet');
      if (adopted) owned.push(adopted);
    }
  }
  const active = owned.filter(isPodActive);
  const want = num(spec.replicas, 1);
  let failure: unknown;
  if (!meta(rs).deletionTimestamp) {
    if (active.length < want) {
      for (let i = active.length; i < want; i++) {
        try {
          const created = rec(await client.call('POST', `/api/v1/namespaces/${ns}/pods`, podFromTemplate(rs)));
          owned.push(created);
          log.info(`Controller ${nameOf(rs)} created pod ${nameOf(created)}`);
        } catch (err) {
          // The ServiceAccount admission refuses pods until the token exists: the status is still
          // written, then the round fails so that the loop tries again soon.
          failure = new Error(`creating a pod for ReplicaSet ${ns}/${nameOf(rs)}: ${(err as Error).message}`);
          break;
        }
      }
    } else if (active.length > want) {
      for (const pod of podsToDelete(active, active.length - want)) {
        try {
          await client.call('DELETE', `/api/v1/namespaces/${ns}/pods/${nameOf(pod)}`);
          log.info(`Controller ${nameOf(rs)} deleted pod ${nameOf(pod)}`);
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) throw err;
        }
      }
    }
  }
  const current = rec(rs.status);
  const fresh = await listItems(client, `/api/v1/namespaces/${ns}/pods`);
  const status = replicaSetStatus(rs, fresh.filter((p) => controlledBy(p, uidOf(rs))));
  const changed = Object.keys(status).some((k) => JSON.stringify(status[k]) !== JSON.stringify(current[k]));
  if (changed) {
    await client.call('PATCH', `/apis/apps/v1/namespaces/${ns}/replicasets/${nameOf(rs)}/status`, { status }, 'application/merge-patch+json').catch((err: unknown) => {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    });
  }
  if (failure) throw failure;
}

export function startReplicaSetController(client: ApiClient, log: Logger): ControllerLoop {
  return runController('replicaset', client, log, ['/apis/apps/v1/replicasets', '/api/v1/pods'], async () => {
    const [sets, pods] = await Promise.all([listItems(client, '/apis/apps/v1/replicasets'), listItems(client, '/api/v1/pods')]);
    const podsByNs = groupByNamespace(pods);
    // One ReplicaSet's failure does not hold up the others; the round fails after all were tried.
    const failures: string[] = [];
    for (const rs of sets) {
      await syncReplicaSet(client, log, rs, podsByNs.get(namespaceOf(rs)) ?? []).catch((err: unknown) => failures.push((err as Error).message));
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  }, controllerManagerResyncMs());
}
