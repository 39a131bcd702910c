/**
 * The deployment controller (v1.13 pkg/controller/deployment, RollingUpdate and Recreate without
 * pausing, rollback or proportional scaling): each Deployment has one ReplicaSet per template,
 * `<deployment>-<pod-template-hash>` with that label in its selector and template; the one matching
 * the current template grows (within maxSurge) while the old ones shrink (within maxUnavailable,
 * as the new pods become available); old ReplicaSets beyond revisionHistoryLimit are deleted; the
 * status and its Available/Progressing conditions are what `kubectl rollout status` waits for.
 */
import type { ApiClient } from '../common/client.js';
import { ApiError } from '../common/client.js';
import type { Logger } from '../common/klog.js';
import { kubeTime } from '../common/objects.js';
import { runController, controllerManagerResyncMs, type ControllerLoop } from '../common/watch-loop.js';
import {
  HASH_LABEL,
  REVISION_ANNOTATION,
  deploymentStatus,
  newReplicaSetReplicas,
  oldReplicasToScaleDown,
  podTemplateHash,
  revisionOf,
  templatesEqual,
} from './deployment-rollout.js';
import { selectorMatches, type LabelSelector } from '../common/label-selector.js';
import { adopt, controlledBy, controllerRef, groupByNamespace, hasController, labelsOf, sameJson, listItems, meta, nameOf, namespaceOf, num, rec, uidOf, type Rec } from './objects.js';

const rsPath = (ns: string, name?: string) => `/apis/apps/v1/namespaces/${ns}/replicasets${name ? `/${name}` : ''}`;

/** The ReplicaSet a Deployment's current template gets. */
export function newReplicaSetFor(deployment: Rec, replicas: number, revision: number): Rec {
  const spec = rec(deployment.spec);
  const template = rec(spec.template);
  const hash = podTemplateHash(template, typeof rec(deployment.status).collisionCount === 'number' ? (rec(deployment.status).collisionCount as number) : undefined);
  const tmeta = rec(template.metadata);
  const selector = rec(spec.selector);
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${nameOf(deployment)}-${hash}`,
      namespace: namespaceOf(deployment),
      labels: { ...rec(tmeta.labels), [HASH_LABEL]: hash },
      annotations: {
        'deployment.kubernetes.io/desired-replicas': String(num(spec.replicas, 1)),
        'deployment.kubernetes.io/max-replicas': String(num(spec.replicas, 1)),
        [REVISION_ANNOTATION]: String(revision),
      },
      ownerReferences: [controllerRef(deployment, 'apps/v1', 'Deployment')],
    },
    spec: {
      replicas,
      selector: { ...selector, matchLabels: { ...rec(selector.matchLabels), [HASH_LABEL]: hash } },
      template: { ...template, metadata: { ...tmeta, labels: { ...rec(tmeta.labels), [HASH_LABEL]: hash } } },
    },
  };
}

async function scale(client: ApiClient, log: Logger, rs: Rec, replicas: number): Promise<Rec> {
  if (num(rec(rs.spec).replicas, 1) === replicas) return rs;
  const ns = namespaceOf(rs);
  const updated = rec(await client.call('PATCH', rsPath(ns, nameOf(rs)), { spec: { replicas } }, 'application/merge-patch+json'));
  log.info(`Scaled ReplicaSet ${ns}/${nameOf(rs)} to ${replicas}`);
  return updated;
}

async function syncDeployment(client: ApiClient, log: Logger, d: Rec, sets: Rec[]): Promise<void> {
  const ns = namespaceOf(d);
  if (meta(d).deletionTimestamp) return;
  const spec = rec(d.spec);
  const replicas = num(spec.replicas, 1);
  let owned = sets.filter((rs) => controlledBy(rs, uidOf(d)));
  // ReplicaSets that match the selector and have no controller (left by --cascade=orphan) are adopted.
  const selector = rec(spec.selector) as LabelSelector;
  for (const orphan of sets.filter((rs) => !hasController(rs) && !meta(rs).deletionTimestamp && selectorMatches(selector, labelsOf(rs)))) {
    const adopted = await adopt(client, rsPath(ns, nameOf(orphan)), orphan, d, 'apps/v1', 'Deployment');
    if (adopted) owned.push(adopted);
  }
  let newRS = owned.find((rs) => templatesEqual(rec(rec(rs.spec).template), rec(spec.template)));
  let createdNow = false;
  const maxRevision = owned.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
  if (!newRS) {
    const wanted = newReplicaSetReplicas(d, owned, undefined);
    const recreateWaits = rec(spec.strategy).type === 'Recreate' && owned.some((rs) => num(rec(rs.spec).replicas, 1) > 0 || num(rec(rs.status).replicas) > 0);
    try {
      newRS = rec(await client.call('POST', rsPath(ns), newReplicaSetFor(d, recreateWaits ? 0 : wanted, maxRevision + 1)));
      createdNow = true;
      log.info(`Created new replica set ${ns}/${nameOf(newRS)} for deployment ${nameOf(d)}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
      // Someone else's ReplicaSet has the name: v1.13 bumps collisionCount and hashes again.
      const count = num(rec(d.status).collisionCount) + 1;
      await client.call('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/${nameOf(d)}/status`, { status: { collisionCount: count } }, 'application/merge-patch+json');
      return;
    }
    owned = [...owned, newRS];
  } else if (revisionOf(newRS) < maxRevision) {
    // A template that came back: its ReplicaSet becomes the newest revision again.
    newRS = rec(await client.call('PATCH', rsPath(ns, nameOf(newRS)), { metadata: { annotations: { [REVISION_ANNOTATION]: String(maxRevision + 1) } } }, 'application/merge-patch+json'));
    owned = owned.map((rs) => (uidOf(rs) === uidOf(newRS!) ? newRS! : rs));
  }
  const current = newRS;
  const old = owned.filter((rs) => uidOf(rs) !== uidOf(current));

  if (rec(spec.strategy).type === 'Recreate') {
    for (const rs of old) await scale(client, log, rs, 0);
    const oldRunning = old.some((rs) => num(rec(rs.status).replicas) > 0);
    if (!oldRunning) newRS = await scale(client, log, current, replicas);
  } else {
    newRS = await scale(client, log, current, Math.max(0, Math.min(newReplicaSetReplicas(d, owned, current), replicas)));
    owned = owned.map((rs) => (uidOf(rs) === uidOf(newRS!) ? newRS! : rs));
    let budget = oldReplicasToScaleDown(d, owned, newRS);
    // Oldest first, as v1.13 scales old ReplicaSets down.
    for (const rs of [...old].sort((a, b) => revisionOf(a) - revisionOf(b))) {
      if (budget <= 0) break;
      const has = num(rec(rs.spec).replicas, 1);
      if (has === 0) continue;
      const down = Math.min(has, budget);
      await scale(client, log, rs, has - down);
      budget -= down;
    }
  }

  // Old ReplicaSets with nothing left, beyond revisionHistoryLimit, go.
  const limit = num(spec.revisionHistoryLimit, 10);
  const idle = old.filter((rs) => num(rec(rs.spec).replicas, 1) === 0 && num(rec(rs.status).replicas) === 0).sort((a, b) => revisionOf(a) - revisionOf(b));
  for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) {
    await client.call('DELETE', rsPath(ns, nameOf(rs))).catch((err: unknown) => {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    });
  }

  const revision = String(revisionOf(newRS));
  if (rec(meta(d).annotations)[REVISION_ANNOTATION] !== revision) {
    await client.call('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/${nameOf(d)}`, { metadata: { annotations: { [REVISION_ANNOTATION]: revision } } }, 'application/merge-patch+json');
  }
  const fresh = (await listItems(client, rsPath(ns))).filter((rs) => controlledBy(rs, uidOf(d)));
  const freshNew = fresh.find((rs) => uidOf(rs) === uidOf(newRS!));
  const status = deploymentStatus(d, fresh, freshNew, createdNow, kubeTime());
  if (!sameJson(status, rec(d.status))) {
    // A merge patch: null removes unavailableReplicas once every replica is available.
    await client.call('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/${nameOf(d)}/status`, { status: { unavailableReplicas: null, ...status } }, 'application/merge-patch+json');
  }
}

export function startDeploymentController(client: ApiClient, log: Logger): ControllerLoop {
  return runController('deployment', client, log, ['/apis/apps/v1/deployments', '/apis/apps/v1/replicasets'], async () => {
    const [deployments, sets] = await Promise.all([listItems(client, '/apis/apps/v1/deployments'), listItems(client, '/apis/apps/v1/replicasets')]);
    const setsByNs = groupByNamespace(sets);
    for (const d of deployments) await syncDeployment(client, log, d, setsByNs.get(namespaceOf(d)) ?? []);
  }, controllerManagerResyncMs());
}
