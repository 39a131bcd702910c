/**
 * One pass of a pod worker, as v1.13's kuberuntime SyncPod and KillPod do it over CRI: a ready
 * sandbox (RunPodSandbox, a new attempt when the old one died), then each container that should
 * run and does not: the image by its pull policy (ImageStatus, PullImage), CreateContainer with
 * attempt = restartCount, StartContainer; exited containers restarted as restartPolicy says, with
 * the crash-loop back-off. Killing stops containers with the grace period, then the sandbox, and
 * removes both with the pod's log directory.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../common/klog.js';
import { messageOf } from '../common/errors.js';
import { Backoff, goSeconds } from './backoff.js';
import { nanosToMs, type CriClient, type PodSandboxConfig } from './cri-client.js';
import { podDesc, type Pod } from './pod-spec.js';
import { containerConfig, GRACE_PERIOD_ANNOTATION, PRE_STOP_ANNOTATION, podLogDirectory, sandboxConfig, type RuntimeSettings } from './runtime-config.js';
import { restartCountOf, type RuntimeState } from './runtime-state.js';
import type { VolumeManager } from './volumes.js';

/** v1.13 minimumGracePeriodInSeconds. */
const MIN_GRACE_SECONDS = 2;

export interface Waiting {
  reason: string;
  message?: string;
}

export class PodSyncer {
  /** `uid/container` → why the kubelet is not running it right now. */
  readonly waiting = new Map<string, Waiting>();
  private readonly crashBackoff = new Backoff();
  private readonly pullBackoff = new Backoff();

  constructor(
    private readonly cri: CriClient,
    private readonly state: RuntimeState,
    private readonly settings: RuntimeSettings,
    private readonly log: Logger,
    private readonly volumes: VolumeManager,
    /** The service environment variables for a pod (service-env.ts). */
    private readonly serviceEnv: (pod: Pod) => Promise<ReadonlyMap<string, string>>,
  ) {}

  /**
   * Starts what should run and does not; true when it started something (the loop then relists at
   * once). Failures are retried at the loop's pace, never at once.
   */
  async sync(pod: Pod): Promise<boolean> {
    const rt = this.state.pods.get(pod.uid) ?? { uid: pod.uid, sandboxes: [], containers: [] };
    // Volumes first, as v1.13 waits for them before it makes the sandbox.
    let hostPaths: Map<string, string>;
    try {
      hostPaths = await this.volumes.setUp(pod);
    } catch (err) {
      const why = messageOf(err);
      if (this.waiting.get(`${pod.uid}/${pod.containers[0]!.name}`)?.message !== why) this.log.error(`Unable to mount volumes for pod "${podDesc(pod)}": ${why}`);
      for (const c of pod.containers) this.waiting.set(`${pod.uid}/${c.name}`, { reason: 'ContainerCreating', message: why });
      return false;
    }
    let changed = false;
    let sandbox = rt.sandboxes.find((s) => s.state === 'SANDBOX_READY');
    let sandboxId: string;
    let attempt: number;
    if (sandbox) {
      sandboxId = sandbox.id;
      attempt = sandbox.metadata.attempt;
    } else {
      attempt = rt.sandboxes.length === 0 ? 0 : Math.max(...rt.sandboxes.map((s) => s.metadata.attempt)) + 1;
      // A pod that must not restart gets no second sandbox (v1.13 computePodActions).
      if (attempt > 0 && pod.restartPolicy === 'Never') return false;
      for (const c of rt.containers.filter((c) => c.state === 'CONTAINER_RUNNING')) await this.cri.stopContainer(c.id, MIN_GRACE_SECONDS).catch(() => undefined);
      const cfg = sandboxConfig(pod, attempt, this.settings);
      await mkdir(cfg.logDirectory, { recursive: true, mode: 0o755 });
      this.log.info(`Creating sandbox for pod "${podDesc(pod)}" (attempt ${attempt})`);
      try {
        sandboxId = await this.cri.runPodSandbox(cfg);
      } catch (err) {
        this.log.error(`Failed to create sandbox for pod "${podDesc(pod)}": ${messageOf(err)}`);
        for (const c of pod.containers) this.waiting.set(`${pod.uid}/${c.name}`, { reason: 'ContainerCreating' });
        return false;
      }
      changed = true;
    }
    const sbCfg = sandboxConfig(pod, attempt, this.settings);
    for (const c of pod.containers) {
      if (await this.syncContainer(pod, c, sandboxId, sbCfg, sandbox === undefined, hostPaths)) changed = true;
    }
    return changed;
  }

  private async syncContainer(pod: Pod, c: Pod['containers'][number], sandboxId: string, sbCfg: PodSandboxConfig, freshSandbox: boolean, hostPaths: Map<string, string>): Promise<boolean> {
    const key = `${pod.uid}/${c.name}`;
    const all = this.state.containersNamed(pod.uid, c.name);
    const inSandbox = freshSandbox ? [] : all.filter((x) => x.podSandboxId === sandboxId);
    let latest = inSandbox[0];
    if (latest?.state === 'CONTAINER_RUNNING') {
      this.waiting.delete(key);
      return false;
    }
    if (latest?.state === 'CONTAINER_CREATED' || latest?.state === 'CONTAINER_UNKNOWN') {
      // Created but never started (a start that failed): removed, and made again.
      await this.cri.removeContainer(latest.id).catch(() => undefined);
      latest = undefined;
    }
    const newest = all.find((x) => x.state === 'CONTAINER_EXITED');
    if (newest) {
      const st = await this.state.containerStatus(newest.id);
      const exitCode = st?.exitCode ?? 1;
      if (pod.restartPolicy === 'Never' || (pod.restartPolicy === 'OnFailure' && exitCode === 0)) {
        this.waiting.delete(key);
        return false;
      }
      if (latest) {
        const finishedMs = nanosToMs(st?.finishedAt ?? '0') || Date.now();
        const wait = this.crashBackoff.remaining(key, finishedMs);
        if (wait > 0) {
          this.waiting.set(key, { reason: 'CrashLoopBackOff', message: `Back-off ${goSeconds(this.crashBackoff.delayMs(key))} restarting failed container=${c.name} pod=${podDesc(pod)}` });
          return false;
        }
        this.crashBackoff.next(key, finishedMs);
      }
    }
    const restartCount = all[0] ? restartCountOf(all[0]) + 1 : 0;

    let imageRef: string;
    try {
      imageRef = await this.ensureImage(pod, c, sbCfg);
    } catch (err) {
      this.waiting.set(key, err instanceof WaitingError ? err.waiting : { reason: 'ErrImagePull', message: messageOf(err) });
      return false;
    }
    // Only the newest dead container of a name is kept (v1.13 GC, MaxPerPodContainer 1).
    for (const old of all.filter((x) => x.state !== 'CONTAINER_RUNNING').slice(1)) await this.cri.removeContainer(old.id).catch(() => undefined);
    let config;
    try {
      config = containerConfig(pod, c, restartCount, imageRef, { mounts: this.volumes.mountsFor(pod, c, hostPaths), serviceEnv: await this.serviceEnv(pod) });
    } catch (err) {
      this.waiting.set(key, { reason: 'CreateContainerConfigError', message: messageOf(err) });
      return false;
    }
    await mkdir(path.join(sbCfg.logDirectory, c.name), { recursive: true, mode: 0o755 });
    let id: string;
    try {
      id = await this.cri.createContainer(sandboxId, config, sbCfg);
    } catch (err) {
      this.waiting.set(key, { reason: 'CreateContainerError', message: messageOf(err) });
      return false;
    }
    try {
      await this.cri.startContainer(id);
    } catch (err) {
      this.waiting.set(key, { reason: 'RunContainerError', message: messageOf(err) });
      await this.cri.removeContainer(id).catch(() => undefined);
      return false;
    }
    this.waiting.delete(key);
    this.log.info(`Started container ${c.name} of pod "${podDesc(pod)}" (restart count ${restartCount})`);
    return true;
  }

  /** The image's reference, pulled when the policy says so (v1.13 imageManager.EnsureImageExists). */
  private async ensureImage(pod: Pod, c: Pod['containers'][number], sbCfg: PodSandboxConfig): Promise<string> {
    const policy = c.imagePullPolicy;
    if (policy !== 'Always') {
      const present = await this.cri.imageStatus(c.image);
      if (present) return present;
      if (policy === 'Never') throw new WaitingError({ reason: 'ErrImageNeverPull', message: `Container image "${c.image}" is not present with pull policy of Never` });
    }
    const key = `${pod.uid}/${c.name}/${c.image}`;
    if (this.pullBackoff.remainingSinceUpdate(key) > 0) throw new WaitingError({ reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` });
    try {
      this.log.info(`Pulling image "${c.image}" for pod "${podDesc(pod)}"`);
      return await this.cri.pullImage(c.image, sbCfg);
    } catch (err) {
      this.pullBackoff.next(key, Date.now());
      throw new WaitingError({ reason: 'ErrImagePull', message: messageOf(err) });
    }
  }

  /**
   * Stops the pod's containers (the grace period, at least 2 s; for a pod no longer known, the one
   * its containers were created with), then its sandboxes; removes them all and its log directory.
   */
  async kill(uid: string, graceSeconds?: number): Promise<void> {
    const rt = this.state.pods.get(uid);
    if (rt) {
      await Promise.all(
        rt.containers
          .filter((c) => c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED')
          .map(async (c) => {
            let grace = Math.max(MIN_GRACE_SECONDS, graceSeconds ?? (Number(c.annotations[GRACE_PERIOD_ANNOTATION]) || 30));
            // As v1.13's killContainer: the preStop hook first, within the grace period; the
            // signal gets what is left of it, at least the minimum.
            if (c.state === 'CONTAINER_RUNNING' && c.annotations[PRE_STOP_ANNOTATION] !== undefined) {
              const started = Date.now();
              await this.preStop(c.id, c.annotations[PRE_STOP_ANNOTATION], grace);
              grace = Math.max(MIN_GRACE_SECONDS, grace - Math.floor((Date.now() - started) / 1000));
            }
            return this.cri.stopContainer(c.id, grace).catch((err: unknown) => this.log.error(`StopContainer ${c.id}: ${messageOf(err)}`));
          }),
      );
      for (const s of rt.sandboxes) await this.cri.stopPodSandbox(s.id).catch((err: unknown) => this.log.error(`StopPodSandbox ${s.id}: ${messageOf(err)}`));
      for (const c of rt.containers) await this.cri.removeContainer(c.id).catch((err: unknown) => this.log.error(`RemoveContainer ${c.id}: ${messageOf(err)}`));
      for (const s of rt.sandboxes) await this.cri.removePodSandbox(s.id).catch((err: unknown) => this.log.error(`RemovePodSandbox ${s.id}: ${messageOf(err)}`));
    }
    await rm(podLogDirectory(uid), { recursive: true, force: true });
    await this.volumes.tearDown(uid).catch((err: unknown) => this.log.error(`Failed to remove the volumes of pod ${uid}: ${messageOf(err)}`));
    this.forget(uid);
  }

  /** Runs a container's exec preStop hook, bounded by `graceSeconds`; a failure is logged, as the kubelet does. */
  private async preStop(containerId: string, handler: string, graceSeconds: number): Promise<void> {
    let command: string[] | undefined;
    try {
      const parsed = JSON.parse(handler) as { exec?: { command?: unknown } };
      if (Array.isArray(parsed.exec?.command) && parsed.exec.command.every((a) => typeof a === 'string')) command = parsed.exec.command as string[];
    } catch {
      // Reported below as an unsupported handler.
    }
    if (!command || command.length === 0) {
      this.log.error(`preStop hook for container ${containerId}: only exec handlers are supported`);
      return;
    }
    const r = await this.cri.execSync(containerId, command, graceSeconds).catch((err: unknown) => ({ exitCode: -1, stdout: '', stderr: messageOf(err) }));
    if (r.exitCode !== 0) this.log.error(`preStop hook for container ${containerId} failed: exit ${r.exitCode} ${r.stderr.trim()}`);
  }

  /** Drops the worker's memory of a pod. */
  forget(uid: string): void {
    for (const k of this.waiting.keys()) if (k.startsWith(`${uid}/`)) this.waiting.delete(k);
    this.crashBackoff.retain((k) => !k.startsWith(`${uid}/`));
    this.pullBackoff.retain((k) => !k.startsWith(`${uid}/`));
  }
}

class WaitingError extends Error {
  constructor(readonly waiting: Waiting) {
    super(waiting.message ?? waiting.reason);
  }
}
