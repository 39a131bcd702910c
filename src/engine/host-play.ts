/**
 * One host through one play: list its tasks (after tags), read ahead in one command what their
 * checks will read (and whether an earlier run left a handler owed: pending.ts), then for each
 * task `check` and, unless this is a dry run, `apply` exactly the changes found. A task that
 * notifies handlers records them on the host before it applies anything. The first error ends
 * the host's run.
 */
import type { Change, RemoteReads, Task, TaskContext } from './contract.js';
import type { RemoteHost } from '../ssh/types.js';
import { describeFailure, UnreachableError, type FailureInfo } from './errors.js';
import { isKprovError } from '../errors.js';
import { StepAbandonedError } from './run-stop.js';
import type { ChangeRecord, Status } from './events.js';
import type { RunRuntime } from './executor.js';
import type { HostSession } from './host-session.js';
import type { PlayControl } from './play-control.js';
import type { PlannedPlay } from './run-plan.js';
import type { InventoryHost } from '../inventory/model.js';
import { recordPending, type OwedHandler } from './pending.js';
import { ReadCache } from './read-cache.js';
import { owedHandlers, pendingPaths, resumeTask } from './resume.js';
import { shouldRun, type TagFilter } from './tags.js';

export interface HostPlayResult {
  status: Status;
  /** Handlers notified by tasks that changed something (empty when the host failed). */
  notified: Set<string>;
  ctx: TaskContext;
  /** Every selected task ran (the host was not stopped early). */
  complete: boolean;
}

interface TaskEntry {
  role: string;
  task: Task;
  /** Reports a handler an earlier run left owed: its record is already on the host. */
  resumes?: boolean;
}

/** `playHosts`: the play's hosts still in the run, as tasks see them in `ctx.playHosts`. */
export async function runHostPlay(
  rt: RunRuntime,
  planned: PlannedPlay,
  session: HostSession,
  control: PlayControl,
  playHosts: readonly InventoryHost[],
): Promise<HostPlayResult> {
  const play = planned.play.name;
  const host = session.host.name;
  const started = rt.clock.now();
  rt.emit({ type: 'host:start', play, host });
  const cache = new ReadCache();
  const ctx = taskContext(rt, planned, session, cache, playHosts);
  const notified = new Set<string>();
  if (rt.stop.requested) {
    // Queued behind --concurrency when the run was stopped: never started here.
    rt.emit({ type: 'host:finish', play, host, status: 'skipped', durationMs: 0, reason: rt.stop.reason });
    return { status: 'skipped', notified, ctx, complete: false };
  }
  let anyChanged = false;
  let stoppedEarly: string | undefined;
  let step = 'list tasks';
  let current: { index: number; entry: TaskEntry; started: number } | undefined;
  let entries: TaskEntry[] = [];
  // Announced once the list is final (owed handlers are found by the read), or when the host fails after listing.
  let listed: TaskEntry[] | undefined;
  let announced = false;
  const announce = () => {
    if (announced || !listed) return;
    announced = true;
    rt.emit({ type: 'host:tasks', play, host, tasks: listed.map((e) => ({ role: e.role, name: e.task.name })) });
  };

  try {
    entries = await rt.stop.bounded(selectTasks(planned, rt.plan.filter, ctx, (s) => (step = s)));
    listed = entries;
    if (entries.length > 0 && planned.play.gatherFacts && !rt.stop.requested) {
      step = 'gather facts';
      await rt.stop.bounded(session.facts());
    }
    if (entries.length > 0 && !control.aborted && !rt.stop.requested) {
      step = 'read host state';
      const notifiable = new Set(entries.flatMap((e) => e.task.notify ?? []));
      await rt.stop.bounded(readAhead(rt, play, session, entries, ctx, cache, pendingPaths(notifiable)));
      if (notifiable.size > 0) {
        for (const record of await rt.stop.bounded(owedHandlers(await session.connect(), notifiable, cache))) {
          entries.push({ role: planned.handlers.get(record.handler)?.role ?? play, task: resumeTask(record), resumes: true });
        }
      }
    }
    announce();
    for (const [index, entry] of entries.entries()) {
      const base = { play, host, role: entry.role, task: entry.task.name, index };
      if (control.aborted || rt.stop.requested) {
        // Nothing new starts once the play or the run is stopping.
        stoppedEarly ??= control.aborted ? control.reason : rt.stop.reason;
        if (!control.aborted) session.interruptedAt ??= `${play}: before ${entry.role}: ${entry.task.name}`;
        session.recap.skipped += 1;
        rt.emit({ type: 'task:finish', ...base, status: 'skipped', durationMs: 0, changes: [], reason: stoppedEarly });
        continue;
      }
      step = `${entry.role}: ${entry.task.name}`;
      current = { index, entry, started: rt.clock.now() };
      rt.emit({ type: 'task:start', ...base });
      // Check and apply are one step: once started, a stop lets it end (within the grace).
      const changes = await rt.stop.bounded(runTask(rt, session, entry, owedBy(entry.task, planned), ctx, cache));
      session.state.recordChanged(changes.flatMap((c) => (c.path === undefined ? [] : [c.path])));
      if (changes.length > 0) {
        anyChanged = true;
        session.recap.changed += 1;
        for (const name of entry.task.notify ?? []) notified.add(name);
      } else {
        session.recap.ok += 1;
      }
      rt.emit({
        type: 'task:finish',
        ...base,
        status: changes.length > 0 ? 'changed' : 'ok',
        durationMs: rt.clock.now() - current.started,
        changes: changes.map(toRecord),
      });
      current = undefined;
    }
    // Handlers restart services: what was read before must not answer for after.
    cache.close();
    const interrupted = stoppedEarly !== undefined && !control.aborted;
    const status: Status = interrupted ? 'interrupted' : anyChanged ? 'changed' : 'ok';
    rt.emit({
      type: 'host:finish',
      play,
      host,
      status,
      durationMs: rt.clock.now() - started,
      ...(stoppedEarly !== undefined ? { reason: `stopped early: ${stoppedEarly}` } : {}),
    });
    return { status, notified, ctx, complete: stoppedEarly === undefined };
  } catch (err) {
    cache.close();
    announce();
    const unreachable = err instanceof UnreachableError;
    if (unreachable && planned.play.ignoreUnreachable) {
      // Expected here (a dead node being removed): said, not counted as a failure.
      const message = `${host} is unreachable (${err.info.message}); the play's steps on it were skipped (ignore_unreachable)`;
      rt.emit({ type: 'warning', play, host, message });
      rt.emit({ type: 'host:finish', play, host, status: 'skipped', durationMs: rt.clock.now() - started, reason: message });
      // Settled for this run (the play says so): not left for the next one.
      return { status: 'skipped', notified: new Set(), ctx, complete: true };
    }
    const abandoned = err instanceof StepAbandonedError;
    const error: FailureInfo = unreachable ? err.info : describeFailure(err);
    const status: Status = unreachable ? 'unreachable' : abandoned ? 'interrupted' : 'failed';
    const at = { play, step: unreachable ? 'connect' : step };
    if (abandoned) session.interruptedAt ??= `${play}: ${step} (abandoned)`;
    else {
      if (unreachable) session.markUnreachable(at);
      else session.markFailed(at);
      control.hostFailed(host);
      // Another run holds this host, or the host refused the run: nothing more of this run may change anything anywhere.
      if (isKprovError(err) && (err.code === 'lock' || err.code === 'refused')) rt.stop.refuse(err);
    }
    if (current) {
      rt.emit({
        type: 'task:finish',
        play,
        host,
        role: current.entry.role,
        task: current.entry.task.name,
        index: current.index,
        status,
        durationMs: rt.clock.now() - current.started,
        changes: [],
        error,
      });
    }
    if (abandoned) {
      // Every listed task gets its outcome: those after the abandoned one never started.
      for (const [index, entry] of entries.entries()) {
        if (index <= (current?.index ?? -1)) continue;
        session.recap.skipped += 1;
        rt.emit({ type: 'task:finish', play, host, role: entry.role, task: entry.task.name, index, status: 'skipped', durationMs: 0, changes: [], reason: rt.stop.reason });
      }
    }
    rt.emit({ type: 'host:finish', play, host, status, durationMs: rt.clock.now() - started, step: at.step, error });
    for (const name of notified) {
      session.unrunHandlers.push(`${play}: ${name}`);
      rt.emit({
        type: 'warning',
        play,
        host,
        message: `handler "${name}" was notified but did not run because the host ${abandoned ? 'was interrupted' : 'failed'}; it stays recorded as pending on the host and the next apply runs it`,
      });
    }
    return { status, notified: new Set(), ctx, complete: false };
  }
}

/** One task: check, and unless this is a dry run, apply exactly what check found. */
async function runTask(rt: RunRuntime, session: HostSession, entry: TaskEntry, owed: OwedHandler[], ctx: TaskContext, cache: ReadCache): Promise<Change[]> {
  const { task } = entry;
  const remote = await session.connect();
  const changes = await task.check(remote, ctx);
  if (changes.length > 0 && !rt.dryRun) {
    await session.beforeChange(remote);
    // On the host before the change: whatever ends the run next, the handlers stay owed.
    if (!entry.resumes) await recordPending(remote, owed, changes);
    // Dropped before apply: a failing apply may have changed part of it.
    cache.invalidate(changes);
    await task.apply(remote, changes, ctx);
  }
  return changes;
}

/** The handlers a task notifies, with the unit each restarts (named in the record). */
function owedBy(task: Task, planned: PlannedPlay): OwedHandler[] {
  return (task.notify ?? []).map((name) => {
    const unit = planned.handlers.get(name)?.handler.unit;
    return { name, ...(unit !== undefined ? { unit } : {}) };
  });
}

/** The host's tasks for this play, in role order, keeping those the tag filter selects. */
async function selectTasks(
  planned: PlannedPlay,
  filter: TagFilter,
  ctx: TaskContext,
  setStep: (step: string) => void,
): Promise<TaskEntry[]> {
  const out: TaskEntry[] = [];
  for (const { role, tags, selected } of planned.roles) {
    if (!selected) continue;
    setStep(`${role.name}: list tasks`);
    const tasks = await role.tasks(ctx);
    for (const task of tasks) {
      for (const name of task.notify ?? []) {
        if (!planned.handlers.has(name)) {
          throw new Error(`task "${task.name}" notifies "${name}", which no role of play "${planned.play.name}" declares as a handler`);
        }
      }
      // Special tags too: a role whose declared tags select nothing is not even listed.
      const undeclared = (task.tags ?? []).find((t) => !tags.includes(t) && !role.taskTags?.includes(t));
      if (undeclared !== undefined) {
        throw new Error(`task "${task.name}" carries tag "${undeclared}", which role "${role.name}" does not declare in taskTags (--tags could not select it)`);
      }
      if (shouldRun([...tags, ...(task.tags ?? [])], filter)) {
        out.push({ role: role.name, task });
      }
    }
  }
  return out;
}

/**
 * Reads in one command everything the host's tasks declared (paths, units, probes), so that on a
 * host where nothing differs each check costs no round trip. A host that cannot run the read
 * (an odd shell, a fake in a test) is read task by task instead.
 */
async function readAhead(
  rt: RunRuntime,
  play: string,
  session: HostSession,
  entries: readonly TaskEntry[],
  ctx: TaskContext,
  cache: ReadCache,
  extraPaths: readonly string[],
): Promise<void> {
  const declared: RemoteReads[] = [{ paths: extraPaths }];
  for (const { task } of entries) if (task.reads) declared.push(await task.reads(ctx));
  const request = ReadCache.request(declared);
  if (request.paths.length + request.units.length + request.commands.length === 0) return;
  const remote: RemoteHost = await session.connect();
  const started = rt.clock.now();
  // The host lock rides on the read: no round trip of its own.
  const lock = session.lock;
  const wrap = lock?.wrap();
  let report = await cache.prefetch(remote, request, wrap);
  if (wrap && lock && (await lock.settle(remote)) === 'again') report = await cache.prefetch(remote, request);
  rt.emit({ type: 'host:read', play, host: session.host.name, ...report, durationMs: rt.clock.now() - started });
}

function taskContext(rt: RunRuntime, planned: PlannedPlay, session: HostSession, cache: ReadCache, playHosts: readonly InventoryHost[]): TaskContext {
  const play = planned.play.name;
  return {
    host: session.host,
    vars: session.host.vars,
    inventory: rt.plan.inventory,
    playHosts,
    run: rt.run,
    dryRun: rt.dryRun,
    state: session.state,
    render: rt.render,
    cache,
    facts: () => session.facts(),
    delegateTo: (name) => rt.connectTo(name, session.host.name),
    warn: (message) => rt.emit({ type: 'warning', message, host: session.host.name, play }),
  };
}

// Only the reportable fields: a helper's change may carry file content that must not be logged.
function toRecord(change: Change): ChangeRecord {
  return {
    kind: change.kind,
    summary: change.summary,
    ...(change.path !== undefined ? { path: change.path } : {}),
    ...(change.diff !== undefined ? { diff: change.diff } : {}),
  };
}
