/**
 * The v1 PodStatus a v1.13 kubelet reports for a pod, from what the runtime says about its
 * sandbox and containers: phase (getPhase), conditions (Initialized, Ready, ContainersReady,
 * PodScheduled; lastTransitionTime moves only when a status flips), hostIP/podIP, startTime,
 * qosClass and containerStatuses (state, lastState, ready, restartCount, image, imageID,
 * containerID). A pure function, so "changed?" is a comparison with what the API holds.
 */
import { kubeTime } from '../common/objects.js';
import { nanosToMs, type ContainerStatus } from './cri-client.js';
import type { Pod } from './pod-spec.js';
import { qosClass } from './runtime-config.js';
import { restartCountOf } from './runtime-state.js';

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface ContainerView {
  name: string;
  /** The image the spec names (shown until the runtime reports its own). */
  image: string;
  /** The newest container of this name, and the one before it. */
  latest?: ContainerStatus;
  previous?: ContainerStatus;
  /** Why the kubelet has not (re)started it: ErrImagePull, ImagePullBackOff, CrashLoopBackOff, … */
  waiting?: { reason: string; message?: string };
  /** The readiness probe's verdict for the running container (absent: no probe, ready when running). */
  ready?: boolean;
}

export interface StatusInput {
  pod: Pod;
  hostIP: string;
  podIP?: string;
  containers: ContainerView[];
  /** The status the API server holds now (times are carried over from it). */
  current: Record<string, unknown> | undefined;
  runtimeName: string;
  now: Date;
}

type State = Record<string, Record<string, unknown>>;

export interface ApiContainerStatus {
  name: string;
  state: State;
  lastState: State;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
}

const time = (nanos: string) => kubeTime(new Date(nanosToMs(nanos)));

function terminated(st: ContainerStatus, runtimeName: string): State {
  return {
    terminated: {
      exitCode: st.exitCode,
      reason: st.reason || (st.exitCode === 0 ? 'Completed' : 'Error'),
      ...(st.message ? { message: st.message } : {}),
      startedAt: nanosToMs(st.startedAt) > 0 ? time(st.startedAt) : null,
      finishedAt: nanosToMs(st.finishedAt) > 0 ? time(st.finishedAt) : null,
      containerID: `${runtimeName}://${st.id}`,
    },
  };
}

export function containerStatusOf(v: ContainerView, runtimeName: string): ApiContainerStatus {
  const latest = v.latest;
  const base = {
    name: v.name,
    restartCount: latest ? restartCountOf(latest) : 0,
    image: latest?.image.image || v.image,
    imageID: latest?.imageRef ?? '',
    ...(latest ? { containerID: `${runtimeName}://${latest.id}` } : {}),
  };
  let state: State;
  let lastState: State = v.previous && v.previous.state === 'CONTAINER_EXITED' ? terminated(v.previous, runtimeName) : {};
  if (latest?.state === 'CONTAINER_RUNNING') {
    state = { running: { startedAt: time(latest.startedAt) } };
  } else if (latest?.state === 'CONTAINER_EXITED' && v.waiting) {
    // About to be restarted: the kubelet shows why it waits, and the exit as the last state.
    state = { waiting: { reason: v.waiting.reason, ...(v.waiting.message ? { message: v.waiting.message } : {}) } };
    lastState = terminated(latest, runtimeName);
  } else if (latest?.state === 'CONTAINER_EXITED') {
    state = terminated(latest, runtimeName);
  } else {
    state = { waiting: { reason: v.waiting?.reason ?? 'ContainerCreating', ...(v.waiting?.message ? { message: v.waiting.message } : {}) } };
  }
  return { ...base, state, lastState, ready: latest?.state === 'CONTAINER_RUNNING' && v.ready !== false };
}

/** v1.13 getPhase. */
export function podPhase(pod: Pod, statuses: ApiContainerStatus[]): PodPhase {
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of statuses) {
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting) {
      if (s.lastState.terminated) stopped++;
      else waiting++;
    }
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (pod.restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (pod.restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

interface Condition {
  type: string;
  status: 'True' | 'False';
  lastProbeTime: null;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

function previousConditions(current: Record<string, unknown> | undefined): Map<string, { status: unknown; lastTransitionTime: unknown }> {
  const list = Array.isArray(current?.['conditions']) ? (current['conditions'] as unknown[]) : [];
  const out = new Map<string, { status: unknown; lastTransitionTime: unknown }>();
  for (const c of list) {
    if (typeof c === 'object' && c !== null && typeof (c as { type?: unknown }).type === 'string') {
      const cc = c as { type: string; status?: unknown; lastTransitionTime?: unknown };
      out.set(cc.type, { status: cc.status, lastTransitionTime: cc.lastTransitionTime });
    }
  }
  return out;
}

export function podStatus(input: StatusInput): Record<string, unknown> {
  const { pod, current, runtimeName } = input;
  const now = kubeTime(input.now);
  const containerStatuses = input.containers.map((v) => containerStatusOf(v, runtimeName));
  const phase = podPhase(pod, containerStatuses);
  const prev = previousConditions(current);
  const condition = (type: string, ok: boolean, reason?: string, message?: string): Condition => {
    const status = ok ? 'True' : 'False';
    const before = prev.get(type);
    const at = before && before.status === status && typeof before.lastTransitionTime === 'string' ? before.lastTransitionTime : now;
    return { type, status, lastProbeTime: null, lastTransitionTime: at, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
  };
  const unready = containerStatuses.filter((s) => !s.ready).map((s) => s.name);
  const completed = phase === 'Succeeded';
  const readyReason = completed ? 'PodCompleted' : unready.length > 0 ? 'ContainersNotReady' : undefined;
  const readyMessage = !completed && unready.length > 0 ? `containers with unready status: [${unready.join(' ')}]` : undefined;
  const startTime = typeof current?.['startTime'] === 'string' ? current['startTime'] : now;
  const podIP = pod.hostNetwork ? input.hostIP : input.podIP;
  return {
    phase,
    conditions: [
      condition('Initialized', true),
      condition('Ready', unready.length === 0 && !completed, readyReason, readyMessage),
      condition('ContainersReady', unready.length === 0 && !completed, readyReason, readyMessage),
      condition('PodScheduled', true),
    ],
    hostIP: input.hostIP,
    ...(podIP ? { podIP } : {}),
    startTime,
    containerStatuses,
    qosClass: qosClass(pod),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The patch that turns `current` into `next`: `next` itself, with `null` for every key `current`
 * has and `next` drops, also inside list elements matched by their merge key (`type` for
 * conditions, `name` for containerStatuses). Read as a strategic merge patch (lists merged by key)
 * or as a JSON merge patch (lists replaced), it gives the same result.
 */
export function statusPatch(current: unknown, next: unknown): unknown {
  if (Array.isArray(next)) {
    if (!Array.isArray(current)) return next;
    return next.map((el) => {
      if (!isObject(el)) return el;
      const key = typeof el['name'] === 'string' ? 'name' : typeof el['type'] === 'string' ? 'type' : undefined;
      const match = key ? current.find((c) => isObject(c) && c[key] === el[key]) : undefined;
      return match === undefined ? el : statusPatch(match, el);
    });
  }
  if (!isObject(next)) return next;
  const out: Record<string, unknown> = {};
  if (isObject(current)) for (const k of Object.keys(current)) if (!(k in next)) out[k] = null;
  for (const [k, v] of Object.entries(next)) out[k] = isObject(current) ? statusPatch(current[k], v) : v;
  return out;
}

/** Same JSON up to key order, a null field counting as an absent one. */
export function sameJson(a: unknown, b: unknown): boolean {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : isObject(v)
        ? Object.fromEntries(
            Object.keys(v)
              .filter((k) => v[k] !== null && v[k] !== undefined)
              .sort()
              .map((k) => [k, canon(v[k])]),
          )
        : v;
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
