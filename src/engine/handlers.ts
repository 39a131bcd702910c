/**
 * Handlers at the end of a play (or serial batch): each notified handler runs once per host that
 * notified it, in declaration order. A rolling handler takes one host at a time, waiting for it
 * to be healthy before the next, and stops at the first host that fails, so a bad restart never
 * spreads to the rest of the control plane. A handler with nothing to do on a host (its
 * `skipReason`, or `run` returning `skipped`) is reported as skipped, never as changed. A
 * handler's record on the host (pending.ts) is removed only after it ran and its host is healthy.
 */
import type { LimitFunction } from 'p-limit';
import { describeFailure, UnreachableError } from './errors.js';
import { StepAbandonedError } from './run-stop.js';
import { isKprovError } from '../errors.js';
import type { Status } from './events.js';
import type { RunRuntime } from './executor.js';
import type { HostPlayResult } from './host-play.js';
import type { HostSession } from './host-session.js';
import { clearPending } from './pending.js';
import type { PlannedHandler, PlannedPlay } from './run-plan.js';

interface HandlerRun {
  name: string;
  planned: PlannedHandler;
  hosts: string[];
}

export async function runHandlers(
  rt: RunRuntime,
  planned: PlannedPlay,
  sessions: ReadonlyMap<string, HostSession>,
  results: ReadonlyMap<string, HostPlayResult>,
  limit: LimitFunction,
  statuses: Map<string, Status>,
): Promise<void> {
  const runs: HandlerRun[] = [];
  for (const [name, handler] of planned.handlers) {
    const hosts = [...results.keys()].filter((h) => results.get(h)!.notified.has(name) && sessions.get(h)!.usable);
    if (hosts.length > 0) runs.push({ name, planned: handler, hosts });
  }
  if (runs.length === 0) return;
  const play = planned.play.name;
  if (rt.stop.requested) {
    // The run is stopping: no handler starts. The next run must redo these (reported at the end).
    for (const run of runs) for (const host of run.hosts) sessions.get(host)!.unrunHandlers.push(`${play}: ${run.name}`);
    return;
  }
  rt.emit({
    type: 'handlers:start',
    play,
    runs: runs.map((r) => ({ handler: r.name, role: r.planned.role, hosts: r.hosts, rolling: r.planned.handler.rolling === true })),
  });

  const runOne = async (run: HandlerRun, host: string): Promise<'done' | 'failed' | 'skipped'> => {
    const session = sessions.get(host)!;
    const { ctx } = results.get(host)!;
    const handler = run.planned.handler;
    if (!session.usable) {
      session.unrunHandlers.push(`${play}: ${run.name}`);
      rt.emit({ type: 'handler:finish', play, host, handler: run.name, status: 'skipped', durationMs: 0, reason: 'the host failed earlier' });
      return 'skipped';
    }
    if (rt.stop.requested) {
      session.unrunHandlers.push(`${play}: ${run.name}`);
      rt.emit({ type: 'handler:finish', play, host, handler: run.name, status: 'skipped', durationMs: 0, reason: rt.stop.reason });
      return 'skipped';
    }
    const started = rt.clock.now();
    rt.emit({ type: 'handler:start', play, host, handler: run.name });
    const finish = (status: 'changed' | 'skipped', reason?: string): 'done' | 'skipped' => {
      if (status === 'skipped') session.recap.skipped += 1;
      else {
        session.recap.changed += 1;
        statuses.set(host, 'changed');
      }
      rt.emit({ type: 'handler:finish', play, host, handler: run.name, status, durationMs: rt.clock.now() - started, ...(reason !== undefined ? { reason } : {}) });
      return status === 'skipped' ? 'skipped' : 'done';
    };
    // Asked first, and in a plan too: a plan shows what the run would do.
    const skip = handler.skipReason?.(ctx);
    if (rt.dryRun) return skip !== undefined ? finish('skipped', `dry run: would skip: ${skip}`) : finish('changed', 'dry run: would run');
    try {
      // Run and health wait are one step: once started, a stop lets it end (within the grace).
      const result = await rt.stop.bounded(
        (async () => {
          const remote = await session.connect();
          if (skip === undefined) await session.beforeChange(remote);
          const ran = skip !== undefined ? { status: 'skipped' as const, reason: skip } : ((await handler.run(remote, ctx)) ?? { status: 'changed' as const });
          // Skipped or not, the service must be healthy before the next host's turn.
          if (handler.waitHealthy) await handler.waitHealthy(remote, ctx);
          // Only now is nothing owed: a run that ends before this line leaves the record for the next.
          await clearPending(remote, run.name);
          return ran;
        })(),
      );
      return result.status === 'skipped' ? finish('skipped', result.reason) : finish('changed');
    } catch (err) {
      if (err instanceof StepAbandonedError) {
        session.interruptedAt ??= `${play}: handler ${run.name} (abandoned)`;
        session.unrunHandlers.push(`${play}: ${run.name}`);
        statuses.set(host, 'interrupted');
        rt.emit({ type: 'handler:finish', play, host, handler: run.name, status: 'interrupted', durationMs: rt.clock.now() - started, error: describeFailure(err) });
        // Not a failure of the host: the hosts after it are skipped because the run is stopping.
        return 'skipped';
      }
      const unreachable = err instanceof UnreachableError;
      if (isKprovError(err) && (err.code === 'lock' || err.code === 'refused')) rt.stop.refuse(err);
      const at = { play, step: `handler ${run.name}` };
      if (unreachable) session.markUnreachable(at);
      else session.markFailed(at);
      statuses.set(host, unreachable ? 'unreachable' : 'failed');
      rt.emit({
        type: 'handler:finish',
        play,
        host,
        handler: run.name,
        status: unreachable ? 'unreachable' : 'failed',
        durationMs: rt.clock.now() - started,
        error: unreachable ? err.info : describeFailure(err),
      });
      return 'failed';
    }
  };

  for (const run of runs) {
    if (run.planned.handler.rolling) {
      let stoppedAt: string | undefined;
      for (const host of run.hosts) {
        if (stoppedAt !== undefined) {
          sessions.get(host)!.unrunHandlers.push(`${play}: ${run.name}`);
          rt.emit({
            type: 'handler:finish',
            play,
            host,
            handler: run.name,
            status: 'skipped',
            durationMs: 0,
            reason: `rolling handler stopped after it failed on ${stoppedAt}`,
          });
          continue;
        }
        if ((await runOne(run, host)) === 'failed') stoppedAt = host;
      }
    } else {
      await Promise.all(run.hosts.map((host) => limit(() => runOne(run, host))));
    }
  }
}
