/**
 * The kubelet's pod loop: every 2 s (sooner when a pod worker finished) it lists the pods bound to
 * this node from the API server, re-reads static pods every fileCheckFrequency, relists the
 * runtime when there is anything to look at, and then
 *   - hands each pod that is not busy to a worker (PodSyncer.sync, or kill + the final DELETE for
 *     a pod being deleted), and kills sandboxes whose pod no source knows any more;
 *   - writes each pod's status when it differs from what the API server holds;
 *   - keeps one mirror pod per static pod.
 * Pods keep running when the kubelet stops; a new kubelet adopts them by their labels.
 */
import { ApiClient, ApiError } from '../common/client.js';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/klog.js';
import type { LogLookup, LogTarget } from './container-logs.js';
import { CriClient } from './cri-client.js';
import { nodeAddress } from './node.js';
import { MIRROR_ANNOTATION, podKey, podSchema, toPod, type Pod, type PodInput } from './pod-spec.js';
import { podStatus, sameJson, statusPatch, type ContainerView } from './pod-status.js';
import { PodSyncer } from './pod-sync.js';
import { containerLogPath, CONTAINER_NAME_LABEL, podLogDirectory, POD_UID_LABEL } from './runtime-config.js';
import { RuntimeState, restartCountOf } from './runtime-state.js';
import type { KubeletSettings } from './settings.js';
import { mirrorPodObject, StaticPodSource } from './static-pods.js';
import { ProbeManager, type ProbeTarget } from './probes.js';
import { serviceEnv, ServiceLister } from './service-env.js';
import { VolumeManager } from './volumes.js';
import { nanosToMs } from './cri-client.js';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

const TICK_MS = 2_000;
// The pods bound here are re-listed when the watch reports a change, and at least this often.
const RESYNC_MS = 30_000;
const WATCH_SECONDS = 300;

interface DesiredPod {
  pod: Pod;
  /** The API object whose status the kubelet writes: the pod itself, or a static pod's mirror. */
  apiObject?: PodInput;
}

const podListSchema = podSchema.array();

export class PodManager {
  private readonly cri: CriClient;
  private readonly state: RuntimeState;
  private readonly syncer: PodSyncer;
  private readonly staticSource: StaticPodSource;
  private readonly probes: ProbeManager;
  private apiPods: PodInput[] = [];
  private staticPods: Pod[] = [];
  private apiSeen = false;
  private staticSeen = false;
  private relisted = false;
  private nextFileCheck = 0;
  private staticWatch: FSWatcher | undefined;
  private readonly busy = new Map<string, Promise<void>>();
  /** Pods whose worker finished after the last relist began: their runtime view is stale. */
  private readonly changedSinceRelist = new Set<string>();
  private readonly lastWritten = new Map<string, string>();
  private readonly reportedBad = new Set<string>();
  private desired = new Map<string, DesiredPod>();
  private stopped = false;
  private wakePending = false;
  private wakeUp: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private lastListError = '';
  private apiDirty = true;
  private lastApiList = 0;
  private podWatch: { stop(): void } | undefined;

  constructor(
    private readonly settings: KubeletSettings,
    private readonly client: ApiClient | undefined,
    private readonly log: Logger,
    private readonly runtimeName: string,
  ) {
    this.cri = new CriClient(settings.runtime.socket);
    this.state = new RuntimeState(this.cri);
    const services = new ServiceLister(async () => (client ? client.call('GET', '/api/v1/services') : { items: [] }));
    this.syncer = new PodSyncer(this.cri, this.state, settings, log, new VolumeManager(settings.rootDir, client), async (pod) => serviceEnv(await services.services(), pod.namespace, pod.enableServiceLinks));
    this.probes = new ProbeManager({
      exec: (id, cmd, timeout) => this.cri.execSync(id, cmd, timeout),
      onReadinessChange: () => this.wake(),
      onLivenessFailure: (t, message) => {
        this.log.info(`Container ${t.container.name} of pod "${podKey(t.pod)}" failed liveness probe, will be restarted: ${message}`);
        void this.cri
          .stopContainer(t.containerId, Math.max(2, t.pod.terminationGracePeriodSeconds))
          .catch((err: unknown) => this.log.error(`StopContainer ${t.containerId}: ${messageOf(err)}`))
          .finally(() => {
            this.changedSinceRelist.add(t.pod.uid);
            this.state.invalidate(t.pod.uid);
            this.wake();
          });
      },
      log: (m) => this.log.info(m),
    });
    this.staticSource = new StaticPodSource(settings.staticPodPath, settings.nodeName, log);
  }

  start(): void {
    this.watchPods();
    this.watchStaticPodPath();
    this.loopDone = (async () => {
      while (!this.stopped) {
        try {
          await this.tick();
        } catch (err) {
          this.log.error(`pod sync: ${messageOf(err)}`);
        }
        await this.sleep(TICK_MS);
      }
    })();
  }

  /**
   * v1.13's file source watches staticPodPath with inotify as well as re-reading it every
   * fileCheckFrequency: a new or changed manifest starts its pod at once.
   */
  private watchStaticPodPath(): void {
    const dir = this.settings.staticPodPath;
    if (!dir) return;
    try {
      this.staticWatch = watch(dir, () => {
        this.nextFileCheck = 0;
        this.wake();
      });
      this.staticWatch.on('error', () => this.staticWatch?.close());
    } catch {
      // No directory yet: the periodic re-read finds it when it appears.
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.staticWatch?.close();
    this.probes.stop();
    this.podWatch?.stop();
    this.wake();
    await this.loopDone;
    this.cri.close();
  }

  private wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakePending || this.stopped) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeUp = undefined;
        self.wakePending = false;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /**
   * A watch on the pods bound to this node, as v1.13's kubelet keeps one: any event marks the
   * list stale and wakes the loop, so an idle node does not list pods every tick.
   */
  private watchPods(): void {
    if (!this.client || this.stopped) return;
    const selector = encodeURIComponent(`spec.nodeName=${this.settings.nodeName}`);
    const w = this.client.watch(`/api/v1/pods?watch=1&timeoutSeconds=${WATCH_SECONDS}&fieldSelector=${selector}`, () => {
      this.apiDirty = true;
      this.wake();
    });
    this.podWatch = w;
    void w.done
      .then(
        () => 0,
        () => 1_000,
      )
      .then((delay) => {
        if (this.stopped) return;
        this.apiDirty = true;
        setTimeout(() => this.watchPods(), delay);
      });
  }

  private async listApiPods(): Promise<void> {
    if (!this.client) return;
    if (!this.apiDirty && Date.now() - this.lastApiList < RESYNC_MS) return;
    // Cleared before the call: an event during it makes the next tick list again.
    this.apiDirty = false;
    this.lastApiList = Date.now();
    try {
      const body = (await this.client.call('GET', `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${this.settings.nodeName}`)}`)) as { items?: unknown };
      const items = Array.isArray(body?.items) ? body.items : [];
      const pods: PodInput[] = [];
      for (const item of items) {
        const parsed = podListSchema.element.safeParse(item);
        if (parsed.success && parsed.data.metadata.uid) pods.push(parsed.data);
        else {
          const name = (item as { metadata?: { name?: unknown } })?.metadata?.name;
          const key = String(name);
          if (!this.reportedBad.has(key)) this.log.error(`Ignoring pod ${key}: ${parsed.success ? 'no metadata.uid' : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
          this.reportedBad.add(key);
        }
      }
      this.apiPods = pods;
      this.apiSeen = true;
      this.lastListError = '';
    } catch (err) {
      const why = messageOf(err);
      if (why !== this.lastListError) this.log.error(`Failed to list pods bound to ${this.settings.nodeName}: ${why}`);
      this.lastListError = why;
      this.apiDirty = true;
    }
  }

  private async tick(): Promise<void> {
    await this.listApiPods();
    if (Date.now() >= this.nextFileCheck) {
      this.staticPods = this.staticSource.read().map((s) => s.pod);
      this.staticSeen = true;
      this.nextFileCheck = Date.now() + this.settings.fileCheckMs;
    }
    const mirrors = new Map(this.apiPods.filter((p) => p.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined).map((p) => [podKey({ namespace: p.metadata.namespace || 'default', name: p.metadata.name }), p]));
    const desired = new Map<string, DesiredPod>();
    for (const input of this.apiPods) {
      if (input.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined) continue;
      desired.set(input.metadata.uid!, { pod: toPod(input, input.metadata.uid!), apiObject: input });
    }
    for (const pod of this.staticPods) {
      const mirror = mirrors.get(podKey(pod));
      desired.set(pod.uid, { pod, ...(mirror && mirror.metadata.annotations?.[MIRROR_ANNOTATION] === pod.uid ? { apiObject: mirror } : {}) });
    }
    this.desired = desired;
    const sourcesReady = (this.apiSeen || !this.client) && this.staticSeen;

    if (desired.size > 0 || this.state.pods.size > 0 || !this.relisted) {
      this.changedSinceRelist.clear();
      await this.state.relist();
      this.relisted = true;
    }

    for (const [uid, d] of desired) {
      if (this.busy.has(uid) || this.changedSinceRelist.has(uid)) continue;
      if (d.pod.deletionTimestamp) {
        this.dispatch(uid, async () => {
          await this.syncer.kill(uid, d.pod.deletionGracePeriodSeconds ?? d.pod.terminationGracePeriodSeconds);
          await this.deleteFromApi(d.pod, 'pod');
          return true;
        });
      } else if (!isTerminal(d.apiObject)) {
        this.dispatch(uid, async () => {
          const changed = await this.syncer.sync(d.pod);
          if (changed) this.state.invalidate(uid);
          return changed;
        });
      }
    }
    if (sourcesReady) {
      for (const uid of this.state.pods.keys()) {
        if (desired.has(uid) || this.busy.has(uid) || this.changedSinceRelist.has(uid)) continue;
        this.log.info(`Killing unwanted pod ${uid}`);
        this.dispatch(uid, async () => {
          await this.syncer.kill(uid);
          return true;
        });
      }
    }
    for (const d of desired.values()) {
      if (!d.apiObject || d.pod.deletionTimestamp || isTerminal(d.apiObject)) continue;
      await this.writeStatus(d.pod, d.apiObject).catch((err: unknown) => this.log.error(`Failed to update status for pod "${podKey(d.pod)}": ${messageOf(err)}`));
    }
    await this.updateProbes().catch((err: unknown) => this.log.error(`probes: ${messageOf(err)}`));
    if (this.client && this.apiSeen && this.staticSeen) await this.syncMirrors(mirrors);
    for (const uid of this.lastWritten.keys()) if (!desired.has(uid)) this.lastWritten.delete(uid);
  }

  /** Probe workers for the running containers that have probes (none otherwise: no timers). */
  private async updateProbes(): Promise<void> {
    const targets: ProbeTarget[] = [];
    for (const d of this.desired.values()) {
      if (d.pod.deletionTimestamp || !d.pod.containers.some((c) => c.readinessProbe || c.livenessProbe)) continue;
      const sandbox = this.state.pods.get(d.pod.uid)?.sandboxes.find((s) => s.state === 'SANDBOX_READY');
      if (!sandbox) continue;
      const ip = d.pod.hostNetwork ? nodeAddress(this.settings) : (await this.state.sandboxStatus(sandbox.id))?.network?.ip;
      if (!ip) continue;
      for (const c of d.pod.containers) {
        if (!c.readinessProbe && !c.livenessProbe) continue;
        const latest = this.state.containersNamed(d.pod.uid, c.name)[0];
        if (latest?.state !== 'CONTAINER_RUNNING' || latest.podSandboxId !== sandbox.id) continue;
        const st = await this.state.containerStatus(latest.id);
        targets.push({ pod: d.pod, container: c, containerId: latest.id, podIP: ip, startedAtMs: nanosToMs(st?.startedAt ?? '0') || Date.now() });
      }
    }
    this.probes.update(targets);
  }

  /** Runs a pod's worker; one that changed the runtime makes the loop relist at once. */
  private dispatch(uid: string, work: () => Promise<boolean>): void {
    const p = work()
      .catch((err: unknown) => {
        this.log.error(`pod worker ${uid}: ${messageOf(err)}`);
        return false;
      })
      .then((changed) => {
        this.busy.delete(uid);
        if (!changed) return;
        this.changedSinceRelist.add(uid);
        this.wake();
      });
    this.busy.set(uid, p);
  }

  private async writeStatus(pod: Pod, apiObject: PodInput): Promise<void> {
    const rt = this.state.pods.get(pod.uid);
    const sandbox = rt?.sandboxes.find((s) => s.state === 'SANDBOX_READY');
    const sandboxStatus = sandbox ? await this.state.sandboxStatus(sandbox.id) : undefined;
    const containers: ContainerView[] = [];
    for (const c of pod.containers) {
      const [latest, previous] = this.state.containersNamed(pod.uid, c.name);
      const waiting = this.syncer.waiting.get(`${pod.uid}/${c.name}`);
      const latestStatus = latest ? await this.state.containerStatus(latest.id) : undefined;
      const previousStatus = previous ? await this.state.containerStatus(previous.id) : undefined;
      const ready = latest && latestStatus?.state === 'CONTAINER_RUNNING' ? this.probes.ready(latest.id, c) : undefined;
      containers.push({ name: c.name, image: c.image, ...(latestStatus ? { latest: latestStatus } : {}), ...(previousStatus ? { previous: previousStatus } : {}), ...(waiting ? { waiting } : {}), ...(ready !== undefined ? { ready } : {}) });
    }
    const current = apiObject.status;
    const ip = sandboxStatus?.network?.ip;
    const status = podStatus({ pod, hostIP: nodeAddress(this.settings), ...(ip ? { podIP: ip } : {}), containers, current, runtimeName: this.runtimeName, now: new Date() });
    const json = JSON.stringify(status);
    if (sameJson(status, current) || this.lastWritten.get(pod.uid) === json) return;
    const ns = apiObject.metadata.namespace || 'default';
    await this.client!.call('PATCH', `/api/v1/namespaces/${ns}/pods/${apiObject.metadata.name}/status`, { status: statusPatch(current ?? {}, status) }, 'application/strategic-merge-patch+json');
    this.lastWritten.set(pod.uid, json);
    if (current?.['phase'] !== status['phase']) this.log.info(`Pod "${podKey(pod)}" is ${String(status['phase'])}`);
  }

  /** The final DELETE (grace period 0, this object's UID as precondition); gone already is fine. */
  private async deleteFromApi(pod: { namespace: string; name: string; uid: string }, what: string): Promise<void> {
    if (!this.client) return;
    try {
      await this.client.call('DELETE', `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid: pod.uid } });
      this.log.info(`Deleted ${what} "${podKey(pod)}"`);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 409)) return;
      throw err;
    }
  }

  /** One mirror pod per static pod, carrying its hash; stale or orphaned mirror pods deleted. */
  private async syncMirrors(mirrors: Map<string, PodInput>): Promise<void> {
    const statics = new Map(this.staticPods.map((p) => [podKey(p), p]));
    for (const [key, mirror] of mirrors) {
      const sp = statics.get(key);
      if (sp && mirror.metadata.annotations?.[MIRROR_ANNOTATION] === sp.uid && !mirror.metadata.deletionTimestamp) continue;
      await this.deleteFromApi({ namespace: mirror.metadata.namespace || 'default', name: mirror.metadata.name, uid: mirror.metadata.uid! }, 'mirror pod').catch((err: unknown) => this.log.error(`Failed deleting mirror pod "${key}": ${messageOf(err)}`));
      mirrors.delete(key);
    }
    // A pod of that name that is not a mirror pod is someone else's: left alone.
    const others = new Set(this.apiPods.filter((p) => p.metadata.annotations?.[MIRROR_ANNOTATION] === undefined).map((p) => podKey({ namespace: p.metadata.namespace || 'default', name: p.metadata.name })));
    for (const [key, sp] of statics) {
      if (mirrors.has(key) || others.has(key)) continue;
      try {
        await this.client!.call('POST', `/api/v1/namespaces/${sp.namespace}/pods`, mirrorPodObject(sp));
        this.log.info(`Created mirror pod "${key}"`);
      } catch (err) {
        if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) this.log.error(`Failed creating a mirror pod for "${key}": ${messageOf(err)}`);
      }
    }
  }

  /** For GET /containerLogs: the log file of the pod's newest (or previous) container of that name. */
  readonly lookupLogs: LogLookup = async (namespace, name, container, previous): Promise<LogTarget> => {
    const d = [...this.desired.values()].find((x) => x.pod.namespace === namespace && x.pod.name === name);
    if (!d) return { status: 404, message: `pod "${name}" in namespace "${namespace}" not found on node "${this.settings.nodeName}"` };
    if (!d.pod.containers.some((c) => c.name === container)) return { status: 400, message: `container ${container} is not valid for pod ${name}` };
    const list = (await this.cri.listContainers({ [POD_UID_LABEL]: d.pod.uid, [CONTAINER_NAME_LABEL]: container })).sort((a, b) => restartCountOf(b) - restartCountOf(a));
    const pick = previous ? list[1] : list[0];
    if (!pick) {
      if (previous) return { status: 400, message: `previous terminated container "${container}" in pod "${name}" not found` };
      const why = this.syncer.waiting.get(`${d.pod.uid}/${container}`)?.reason ?? 'ContainerCreating';
      return { status: 400, message: `container "${container}" in pod "${name}" is waiting to start: ${why}` };
    }
    const st = await this.cri.containerStatus(pick.id).catch(() => undefined);
    const logPath = st?.logPath || path.join(podLogDirectory(d.pod.uid), containerLogPath(container, restartCountOf(pick)));
    return { logPath, running: async () => (await this.cri.containerStatus(pick.id).catch(() => undefined))?.state === 'CONTAINER_RUNNING' };
  };
}

function isTerminal(apiObject: PodInput | undefined): boolean {
  const phase = apiObject?.status?.['phase'];
  return phase === 'Succeeded' || phase === 'Failed';
}
