/**
 * Runs a RunPlan: first every role's `validate` for every play (bad input fails here, before any
 * host is contacted); then plays in order; within a play, hosts in parallel (bounded by `concurrency`),
 * each host's tasks in order (check, then apply only what check found); handlers at the end of
 * the play (or of each serial batch). A failing host drops out for the rest of the run while the
 * others go on, unless the play says otherwise (`any_errors_fatal`, `max_fail_percentage`: see
 * play-control.ts), which stops the playbook. Everything is reported through events; nothing is
 * printed.
 */
import pLimit from 'p-limit';
import { ExitCode, isKprovError, KprovError } from '../errors.js';
import type { InventoryHost } from '../inventory/model.js';
import type { HostFacts, PlayContext, TemplateRenderer } from './contract.js';
import type { RemoteHost } from '../ssh/types.js';
import { describeFailure, UnreachableError, type FailureInfo } from './errors.js';
import type { EventBody, EventSink, HostLeftBehind, HostRecap, RunEvent, Status } from './events.js';
import { gatherFacts as defaultGatherFacts } from '../ssh/facts.js';
import { runHandlers } from './handlers.js';
import { HostSession } from './host-session.js';
import { runHostPlay, type HostPlayResult } from './host-play.js';
import { leftBehind } from './left-behind.js';
import { PlayControl, tooMany } from './play-control.js';
import { newRunId } from './run-id.js';
import { DEFAULT_GRACE_MS, RunStop } from './run-stop.js';
import { HostLock, type HostLockOptions } from './host-lock.js';
import { endSessions } from './end-sessions.js';
import type { PlannedPlay, RunPlan } from './run-plan.js';
import { createTemplateRenderer } from './template.js';

export interface Connector {
  /** Opens the one connection this run uses for the host (called at most once per host). */
  connect(host: InventoryHost): Promise<RemoteHost>;
  /** Closes every connection the connector opened; without it the executor closes each host. */
  closeAll?(): Promise<void>;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const DEFAULT_CONCURRENCY = 20;

export interface ExecuteOptions<R> {
  dryRun: boolean;
  /** Hosts worked on at once (default 20). */
  concurrency?: number;
  connector: Connector;
  emit: EventSink;
  /** Shown in run:start (a playbook name or path). */
  playbookLabel?: string;
  gatherFacts?: (host: RemoteHost) => Promise<HostFacts>;
  render?: TemplateRenderer;
  /** The run context every role's tasks see as `ctx.run` (built once by the caller). */
  run: R;
  clock?: Clock;
  /** Emitted right after run:start (e.g. the inventory loader's warnings). */
  warnings?: readonly string[];
  /** Carried by every event (a new one when not given). */
  runId?: string;
  /**
   * Aborted to stop the run early (SIGINT/SIGTERM in the CLI): no new play, host, task or handler
   * starts, steps in flight get `graceMs` (default 30 s) to end, and the run finishes `interrupted`.
   */
  signal?: AbortSignal;
  graceMs?: number;
  /** The run's lock on each host it changes (host-lock.ts); none in a dry run. */
  hostLock?: HostLockOptions;
}

export interface RunResult {
  status: 'ok' | 'failed' | 'interrupted';
  recap: HostRecap[];
  durationMs: number;
  /** Hosts the run did not finish, and what the next run will do there. */
  leftBehind: HostLeftBehind[];
  /** Another run held a host's lock: the run stopped there (the CLI exits 2 with this error). */
  refusedBy?: KprovError;
}

/** The per-run services every play and host share. */
export interface RunRuntime {
  plan: RunPlan;
  dryRun: boolean;
  concurrency: number;
  /** The caller's run context, handed through to roles untouched. */
  run: unknown;
  render: TemplateRenderer;
  clock: Clock;
  emit(body: EventBody): void;
  /** Set when the run must stop early (interrupt, refusal): checked before anything new starts. */
  stop: RunStop;
  /** The run's connection to an inventory host, for a step another host delegates to it. */
  connectTo(host: string, from: string): Promise<RemoteHost>;
}

export async function executePlan<R>(plan: RunPlan<R>, options: ExecuteOptions<R>): Promise<RunResult> {
  const clock = options.clock ?? systemClock;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const runId = options.runId ?? newRunId();
  const emit = (body: EventBody): void => options.emit({ ...body, time: new Date(clock.now()).toISOString(), runId } as RunEvent);
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const stop = new RunStop(options.signal, graceMs, (reason, kind) => emit({ type: 'run:stop', kind, reason, graceMs }));
  const rt: RunRuntime = {
    plan,
    dryRun: options.dryRun,
    concurrency,
    run: options.run,
    render: options.render ?? lazyDefaultRenderer(),
    clock,
    emit,
    stop,
    connectTo: () => Promise.reject(new Error('the run has not started')),
  };
  const gather = options.gatherFacts ?? defaultGatherFacts;
  const hostLock = options.dryRun ? undefined : options.hostLock;
  const lockFor = (host: string) =>
    hostLock && new HostLock(host, hostLock, (message) => emit({ type: 'warning', host, message }), () => clock.now());
  const sessions = new Map(plan.hosts.map((h) => [h.name, new HostSession(h, options.connector, gather, lockFor(h.name))]));
  rt.connectTo = async (name, from) => {
    let session = sessions.get(name);
    if (!session) {
      // A host no play of this run targets (--limit): its session is opened for the delegation.
      const host = plan.inventory.hosts.find((h) => h.name === name);
      if (!host) throw new KprovError('internal', `${from} delegates a step to ${name}, which is not an inventory host`, { host: from });
      session = new HostSession(host, options.connector, gather, undefined);
      sessions.set(name, session);
    }
    try {
      return await session.connect();
    } catch (err) {
      const why = err instanceof UnreachableError ? err.info.message : String(err);
      throw new KprovError('host', `a step of ${from} runs on ${name}, and ${name} is unreachable (${why})`, { host: from });
    }
  };
  const started = clock.now();

  emit({
    type: 'run:start',
    playbook: options.playbookLabel ?? plan.playbook.file,
    inventory: plan.inventory.dir,
    dryRun: options.dryRun,
    plays: plan.plays.map((p) => p.play.name),
    hosts: plan.hosts.map((h) => h.name),
    ...(plan.limit !== undefined ? { limit: plan.limit } : {}),
    tags: plan.filter.only.filter((t) => t !== 'all'),
    skipTags: [...plan.filter.skip],
    concurrency,
  });
  for (const message of options.warnings ?? []) emit({ type: 'warning', message });
  try {
    await validatePlays(rt);
  } catch (err) {
    stop.dispose();
    throw err;
  }

  let stopReason: string | undefined;
  try {
    for (const planned of plan.plays) {
      if (stop.requested) stopReason ??= stop.reason;
      stopReason ??= failedBeforeStart(planned, sessions);
      if (stopReason !== undefined) {
        emit({ type: 'play:skip', play: planned.play.name, index: planned.index, reason: stopReason });
        continue;
      }
      stopReason = await runPlay(rt, planned, sessions);
    }
  } finally {
    stop.dispose();
    await endSessions(options.connector, sessions, emit);
  }

  const recap = plan.hosts.map((h) => ({ ...sessions.get(h.name)!.recap }));
  const behind = leftBehind(plan, sessions);
  const failed = recap.some((r) => r.failed > 0 || r.unreachable > 0);
  const status = stop.kind === 'interrupted' ? 'interrupted' : failed ? 'failed' : 'ok';
  const durationMs = clock.now() - started;
  emit({
    type: 'run:finish',
    status,
    ...(stopReason !== undefined ? { stopped: stopReason } : {}),
    dryRun: options.dryRun,
    durationMs,
    recap,
    leftBehind: behind,
  });
  return { status, recap, durationMs, leftBehind: behind, ...(stop.refusedBy ? { refusedBy: stop.refusedBy } : {}) };
}

/**
 * With `max_fail_percentage`, hosts that failed earlier in the run count: an etcd play must not
 * start without a member that was unreachable since the first play. Returns why the playbook stops.
 */
function failedBeforeStart(planned: PlannedPlay, sessions: Map<string, HostSession>): string | undefined {
  const failed = planned.hosts.map((h) => sessions.get(h.name)!).filter((s) => !s.usable);
  if (!tooMany(failed.length, planned.hosts.length, planned.play.maxFailPercentage)) return undefined;
  const byPlay = new Map<string, string[]>();
  for (const s of failed) {
    const play = s.failure?.play ?? 'an earlier play';
    byPlay.set(play, [...(byPlay.get(play) ?? []), s.host.name]);
  }
  return [...byPlay].map(([play, hosts]) => `play "${play}" failed on ${hosts.join(', ')}`).join('; ');
}

/** Runs one play; returns why the playbook must stop after it, or undefined. */
async function runPlay(rt: RunRuntime, planned: PlannedPlay, sessions: Map<string, HostSession>): Promise<string | undefined> {
  const { play } = planned;
  const active = planned.hosts.filter((h) => sessions.get(h.name)!.usable);
  if (active.length === 0) {
    const reason = planned.hosts.length === 0 ? 'no hosts matched' : 'every host of this play failed earlier';
    rt.emit({ type: 'play:skip', play: play.name, index: planned.index, reason });
    return undefined;
  }
  const batchSize = serialBatchSize(planned, active.length);
  const started = rt.clock.now();
  rt.emit({
    type: 'play:start',
    play: play.name,
    index: planned.index,
    hosts: active.map((h) => h.name),
    ...(batchSize < active.length ? { serial: batchSize } : {}),
  });

  const prepareError = await prepareRoles(rt, planned, active);
  if (prepareError) {
    for (const h of active) {
      const s = sessions.get(h.name)!;
      s.markFailed({ play: play.name, step: prepareError.step });
      rt.emit({ type: 'host:start', play: play.name, host: h.name });
      rt.emit({ type: 'host:finish', play: play.name, host: h.name, status: 'failed', durationMs: 0, step: prepareError.step, error: prepareError.error });
    }
    rt.emit({ type: 'play:finish', play: play.name, index: planned.index, status: 'failed', durationMs: rt.clock.now() - started, error: prepareError.error });
    // Nothing of the play ran anywhere: whatever comes after builds on it.
    return `play "${play.name}" failed: ${prepareError.step}`;
  }

  const limit = pLimit(rt.concurrency);
  const statuses = new Map<string, Status>();
  let stopReason: string | undefined;
  for (let i = 0; i < active.length; i += batchSize) {
    const batch = active.slice(i, i + batchSize);
    const failedBefore = planned.hosts.filter((h) => !sessions.get(h.name)!.usable).map((h) => h.name);
    const control = new PlayControl(play, planned.hosts.length, failedBefore);
    const results = await Promise.all(
      batch.map((h) => limit(() => runHostPlay(rt, planned, sessions.get(h.name)!, control, active))),
    );
    batch.forEach((h, j) => statuses.set(h.name, results[j]!.status));
    const byHost = new Map(batch.map((h, j) => [h.name, results[j]!]));
    if (control.aborted) {
      warnPendingHandlers(rt, planned, sessions, byHost, `the play was stopped (${control.reason})`);
    } else {
      await runHandlers(rt, planned, sessions, byHost, limit, statuses);
    }
    for (const [host, result] of byHost) {
      const session = sessions.get(host)!;
      if (result.complete && session.usable) session.donePlays.add(play.name);
    }
    const failedInBatch = batch.filter((h) => !sessions.get(h.name)!.usable).map((h) => h.name);
    // A handler that failed counts against the play's policy like a task.
    for (const h of failedInBatch) control.hostFailed(h);
    stopReason = control.stopReason() ?? (rt.stop.requested ? rt.stop.reason : undefined);
    const rest = active.slice(i + batchSize);
    // A rolling play stops at the first bad batch: the remaining hosts keep their old state, and
    // later plays would build on a change rolled out halfway.
    if (failedInBatch.length > 0 && rest.length > 0) stopReason ??= `play "${play.name}" stopped after a serial batch failed on ${failedInBatch.join(', ')}`;
    if (stopReason === undefined) continue;
    for (const h of rest) {
      rt.emit({ type: 'host:start', play: play.name, host: h.name });
      rt.emit({ type: 'host:finish', play: play.name, host: h.name, status: 'skipped', durationMs: 0, reason: failedInBatch.length > 0 ? 'an earlier serial batch failed' : stopReason });
      statuses.set(h.name, 'skipped');
    }
    break;
  }

  const failed = active.filter((h) => !sessions.get(h.name)!.usable).map((h) => h.name);
  const anyChanged = [...statuses.values()].includes('changed');
  const interrupted = [...statuses.values()].includes('interrupted') || rt.stop.kind === 'interrupted';
  const status: Status = failed.length > 0 ? 'failed' : interrupted ? 'interrupted' : anyChanged ? 'changed' : 'ok';
  rt.emit({ type: 'play:finish', play: play.name, index: planned.index, status, durationMs: rt.clock.now() - started });
  return stopReason;
}

function serialBatchSize(planned: PlannedPlay, hostCount: number): number {
  const serial = planned.play.serial;
  // A `{{ variable }}` was resolved by planRun; one left here is a plan built by hand: no batches.
  if (!serial || 'variable' in serial) return hostCount;
  const size = 'count' in serial ? serial.count : Math.ceil((serial.percent * hostCount) / 100);
  return Math.max(1, Math.min(size, hostCount));
}

function playContext(rt: RunRuntime, planned: PlannedPlay, hosts: readonly InventoryHost[]): PlayContext {
  return {
    play: planned.play.name,
    hosts,
    inventory: rt.plan.inventory,
    run: rt.run,
    dryRun: rt.dryRun,
    render: rt.render,
    warn: (message) => rt.emit({ type: 'warning', message, play: planned.play.name }),
  };
}

/**
 * Every role's `validate`, for every play, before the first play starts: a broken template or a
 * mode kprov lacks is bad input (exit 2), reported before ssh-keys or preflight touch any host.
 * A role that --tags/--skip-tags leave without a task is neither validated nor prepared.
 */
async function validatePlays(rt: RunRuntime): Promise<void> {
  for (const planned of rt.plan.plays) {
    for (const { role, selected } of planned.roles) {
      if (!role.validate || !selected) continue;
      try {
        await role.validate(playContext(rt, planned, planned.hosts));
      } catch (err) {
        const info = describeFailure(err);
        rt.emit({ type: 'run:invalid', play: planned.play.name, role: role.name, error: info });
        if (isKprovError(err) && err.exitCode === ExitCode.badInput) throw err;
        throw new KprovError(isKprovError(err) ? err.code : 'internal', `${role.name}: ${info.message}`, {
          ...(info.hint ? { hint: info.hint } : {}),
          ...(info.location ? { location: info.location } : {}),
          exitCode: ExitCode.badInput,
          cause: err,
        });
      }
    }
  }
}

async function prepareRoles(
  rt: RunRuntime,
  planned: PlannedPlay,
  hosts: readonly InventoryHost[],
): Promise<{ step: string; error: FailureInfo } | undefined> {
  for (const { role, selected } of planned.roles) {
    if (!role.prepare || !selected) continue;
    try {
      await role.prepare(playContext(rt, planned, hosts));
    } catch (err) {
      return { step: `${role.name}: prepare`, error: describeFailure(err) };
    }
  }
  return undefined;
}

/** A notified handler that never ran would not be notified again by an unchanged file: say so. */
function warnPendingHandlers(
  rt: RunRuntime,
  planned: PlannedPlay,
  sessions: Map<string, HostSession>,
  results: ReadonlyMap<string, HostPlayResult>,
  why: string,
): void {
  for (const [host, { notified }] of results) {
    for (const name of notified) {
      sessions.get(host)!.unrunHandlers.push(`${planned.play.name}: ${name}`);
      rt.emit({
        type: 'warning',
        play: planned.play.name,
        host,
        message: `handler "${name}" was notified but did not run because ${why}; run it by hand (the next apply will not notify it again)`,
      });
    }
  }
}

// templates/ is only read when a task renders something.
function lazyDefaultRenderer(): TemplateRenderer {
  let renderer: TemplateRenderer | undefined;
  return (file, vars) => {
    renderer ??= createTemplateRenderer();
    return renderer(file, vars);
  };
}

