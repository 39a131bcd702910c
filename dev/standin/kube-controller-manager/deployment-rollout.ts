/**
 * The deployment controller's arithmetic (v1.13 pkg/controller/deployment/util), kept pure: the
 * pod-template-hash, maxSurge/maxUnavailable from int-or-percent, how far the new ReplicaSet may
 * grow and the old ones shrink in a rolling update, and the Deployment's status and conditions.
 */
import { arr, sameJson, meta, nameOf, num, rec, type Rec } from './objects.js';

export const HASH_LABEL = 'pod-template-hash';
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

/** rand.SafeEncodeString: each character mapped into an alphabet without vowels or 0/1/3. */
const SAFE = 'bcdfghjklmnpqrstvwxz2456789';
const safeEncode = (s: string) => [...s].map((c) => SAFE[c.charCodeAt(0) % SAFE.length]).join('');

/** FNV-1a 32 over the template's JSON (v1.13 hashes its spew dump), plus the collision count. */
export function podTemplateHash(template: unknown, collisionCount?: number): string {
  let h = 0x811c9dc5;
  const text = JSON.stringify(template) + (collisionCount === undefined ? '' : String(collisionCount));
  for (const b of Buffer.from(text, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return safeEncode(String(h >>> 0));
}

/** A template without the pod-template-hash label, for comparing a ReplicaSet's with the Deployment's. */
export function withoutHash(template: unknown): Rec {
  const t = rec(template);
  const tm = rec(t.metadata);
  const { [HASH_LABEL]: _dropped, ...labels } = rec(tm.labels);
  return { ...t, metadata: { ...tm, labels } };
}

export function templatesEqual(a: unknown, b: unknown): boolean {
  return sameJson(withoutHash(a), withoutHash(b));
}

/** An int-or-percent of `total`: percentages round up for surge, down for unavailability. */
export function scaledValue(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+%$/.test(v)) {
    const exact = (Number(v.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(exact) : Math.floor(exact);
  }
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return 0;
}

/** maxSurge and maxUnavailable of a rolling update; both 0 would deadlock, so unavailable is then 1. */
export function surgeAndUnavailable(deployment: Rec): { maxSurge: number; maxUnavailable: number } {
  const spec = rec(deployment.spec);
  const replicas = num(spec.replicas, 1);
  const strategy = rec(spec.strategy);
  if (strategy.type === 'Recreate') return { maxSurge: 0, maxUnavailable: replicas };
  const ru = rec(strategy.rollingUpdate);
  const maxSurge = scaledValue(ru.maxSurge ?? '25%', replicas, true);
  let maxUnavailable = scaledValue(ru.maxUnavailable ?? '25%', replicas, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, replicas) };
}

const specReplicas = (rs: Rec) => num(rec(rs.spec).replicas, 1);
const statusOf = (rs: Rec, field: string) => num(rec(rs.status)[field]);

/** The replicas the new ReplicaSet should have now (NewRSNewReplicas for RollingUpdate). */
export function newReplicaSetReplicas(deployment: Rec, all: Rec[], newRS: Rec | undefined): number {
  const replicas = num(rec(deployment.spec).replicas, 1);
  const current = newRS ? specReplicas(newRS) : 0;
  if (rec(rec(deployment.spec).strategy).type === 'Recreate') return replicas;
  const { maxSurge } = surgeAndUnavailable(deployment);
  const total = all.reduce((n, rs) => n + specReplicas(rs), 0);
  const maxTotal = replicas + maxSurge;
  if (total >= maxTotal) return current;
  return Math.min(current + (maxTotal - total), replicas);
}

/** How many old replicas may go now without dropping below replicas - maxUnavailable available. */
export function oldReplicasToScaleDown(deployment: Rec, all: Rec[], newRS: Rec): number {
  const replicas = num(rec(deployment.spec).replicas, 1);
  const { maxUnavailable } = surgeAndUnavailable(deployment);
  const allPods = all.reduce((n, rs) => n + specReplicas(rs), 0);
  const minAvailable = replicas - maxUnavailable;
  const newUnavailable = specReplicas(newRS) - statusOf(newRS, 'availableReplicas');
  return Math.max(0, allPods - minAvailable - newUnavailable);
}

export function revisionOf(rs: Rec): number {
  const v = Number(rec(meta(rs).annotations)[REVISION_ANNOTATION] ?? '0');
  return Number.isFinite(v) ? v : 0;
}

interface Condition {
  type: string;
  status: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

function condition(previous: Rec[], type: string, status: string, reason: string, message: string, now: string): Condition {
  const before = previous.find((c) => c.type === type);
  if (before && before.status === status && before.reason === reason && before.message === message) return before as unknown as Condition;
  const lastTransitionTime = before && before.status === status && typeof before.lastTransitionTime === 'string' ? before.lastTransitionTime : now;
  return { type, status, lastUpdateTime: now, lastTransitionTime, reason, message };
}

/** The Deployment's status from its ReplicaSets, with the Available and Progressing conditions. */
export function deploymentStatus(deployment: Rec, all: Rec[], newRS: Rec | undefined, createdNow: boolean, now: string): Rec {
  const spec = rec(deployment.spec);
  const replicas = num(spec.replicas, 1);
  const previous = arr(rec(deployment.status).conditions);
  const sum = (field: string) => all.reduce((n, rs) => n + statusOf(rs, field), 0);
  const available = sum('availableReplicas');
  const updated = newRS ? statusOf(newRS, 'replicas') : 0;
  const total = sum('replicas');
  const { maxUnavailable } = surgeAndUnavailable(deployment);
  const availableCond =
    available >= replicas - maxUnavailable
      ? condition(previous, 'Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', now)
      : condition(previous, 'Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', now);
  const rsName = newRS ? nameOf(newRS) : '';
  const complete = newRS !== undefined && updated === replicas && statusOf(newRS, 'availableReplicas') === replicas && total === replicas;
  const progressing = complete
    ? condition(previous, 'Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${rsName}" has successfully progressed.`, now)
    : createdNow
      ? condition(previous, 'Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${rsName}"`, now)
      : condition(previous, 'Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${rsName}" is progressing.`, now);
  const specTotal = all.reduce((n, rs) => n + specReplicas(rs), 0);
  return {
    observedGeneration: num(meta(deployment).generation, 1),
    replicas: total,
    updatedReplicas: updated,
    readyReplicas: sum('readyReplicas'),
    availableReplicas: available,
    ...(specTotal - available > 0 ? { unavailableReplicas: specTotal - available } : {}),
    conditions: [availableCond, progressing],
    ...(rec(deployment.status).collisionCount !== undefined ? { collisionCount: rec(deployment.status).collisionCount } : {}),
  };
}
