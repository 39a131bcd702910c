/**
 * Leader election as client-go v1.13 does it for kube-controller-manager and kube-scheduler: the
 * record lives in the `control-plane.alpha.kubernetes.io/leader` annotation of an Endpoints (or
 * ConfigMap) object; a candidate takes over only once the record it observed has not changed for a
 * whole lease; updates carry the resourceVersion, so two candidates never both win.
 */
import { ApiError, type ApiClient } from './client.js';
import { messageOf } from './errors.js';
import type { Logger } from './klog.js';
import { LEADER_ANNOTATION, type LeaderRecord, kubeObjectSchema, kubeTime, leaderRecordSchema } from './objects.js';

export interface LeaderElectionConfig {
  client: ApiClient;
  resource: 'endpoints' | 'configmaps';
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  onStartedLeading(): void;
  /** Called once when a leader fails to renew within the deadline. */
  onStoppedLeading(): void;
}

/** client-go's JitterFactor: wait.Jitter(d, 1.2) waits d + rand·1.2·d, 2–4.4 s for the 2 s retry period. */
const JITTER_FACTOR = 1.2;

export class LeaderElector {
  private observedRecord = '';
  private observedTime = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private lastRenew = 0;

  constructor(private readonly cfg: LeaderElectionConfig) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    const { namespace, name } = this.cfg;
    this.cfg.log.info(`attempting to acquire leader lease ${namespace}/${name}...`);
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const { namespace, name, log } = this.cfg;
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      log.error(`error retrieving resource lock ${namespace}/${name}: ${messageOf(err)}`);
    }
    if (this.stopped) return;
    const now = Date.now();
    if (!this.leading) {
      if (ok) {
        this.leading = true;
        this.lastRenew = now;
        log.info(`successfully acquired lease ${namespace}/${name}`);
        this.cfg.onStartedLeading();
      }
      // Candidates retry with jitter, as wait.JitterUntil(…, RetryPeriod, JitterFactor, …) does.
      this.schedule(this.cfg.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR));
      return;
    }
    if (ok) this.lastRenew = now;
    else if (now - this.lastRenew > this.cfg.renewDeadlineMs) {
      log.info(`failed to renew lease ${namespace}/${name}: timed out waiting for the condition`);
      this.leading = false;
      this.stopped = true;
      this.cfg.onStoppedLeading();
      return;
    }
    this.schedule(this.cfg.retryPeriodMs);
  }

  private path(withName: boolean): string {
    const base = `/api/v1/namespaces/${this.cfg.namespace}/${this.cfg.resource}`;
    return withName ? `${base}/${this.cfg.name}` : base;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, identity, namespace, name } = this.cfg;
    const now = new Date();
    const record: LeaderRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(this.cfg.leaseDurationMs / 1000),
      acquireTime: kubeTime(now),
      renewTime: kubeTime(now),
      leaderTransitions: 0,
    };

    const res = await client.request('GET', this.path(true));
    if (res.status === 404) {
      const created = await client.request('POST', this.path(false), {
        apiVersion: 'v1',
        kind: this.cfg.resource === 'endpoints' ? 'Endpoints' : 'ConfigMap',
        metadata: { name, namespace, annotations: { [LEADER_ANNOTATION]: JSON.stringify(record) } },
      });
      if (created.status >= 300) return false;
      this.observe(JSON.stringify(record), now.getTime());
      return true;
    }
    if (res.status >= 300) throw new ApiError(res.status, '', res.text.trim() || `HTTP ${res.status}`);

    const obj = kubeObjectSchema.parse(res.body);
    const annotation = obj.metadata?.annotations?.[LEADER_ANNOTATION];
    let old: LeaderRecord = { holderIdentity: '', leaseDurationSeconds: 0, leaderTransitions: 0 };
    if (annotation) {
      const parsed = leaderRecordSchema.safeParse(JSON.parse(annotation));
      if (parsed.success) old = parsed.data;
    }
    if (annotation !== this.observedRecord) this.observe(annotation ?? '', now.getTime());
    if (old.holderIdentity !== '' && old.holderIdentity !== identity && this.observedTime + this.cfg.leaseDurationMs > now.getTime()) {
      return false;
    }
    if (old.holderIdentity === identity) {
      record.acquireTime = old.acquireTime ?? record.acquireTime;
      record.leaderTransitions = old.leaderTransitions;
    } else {
      record.leaderTransitions = old.leaderTransitions + 1;
    }
    const updated = {
      ...obj,
      metadata: { ...obj.metadata, annotations: { ...(obj.metadata?.annotations ?? {}), [LEADER_ANNOTATION]: JSON.stringify(record) } },
    };
    const put = await client.request('PUT', this.path(true), updated);
    if (put.status === 409) return false;
    if (put.status >= 300) throw new ApiError(put.status, '', put.text.trim() || `HTTP ${put.status}`);
    this.observe(JSON.stringify(record), now.getTime());
    return true;
  }

  private observe(record: string, at: number): void {
    this.observedRecord = record;
    this.observedTime = at;
  }
}
