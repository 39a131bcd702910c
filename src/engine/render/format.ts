/** Text shared by the renderers: durations, the PLAY RECAP, the per-host plan, failures. */
import { formatFailure } from '../errors.js';
import type { HostLeftBehind, HostRecap, RunEvent, TaskFinishEvent } from '../events.js';

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
}

/** Ansible's PLAY RECAP, one aligned line per host. */
export function formatRecap(recap: readonly HostRecap[]): string[] {
  const width = Math.max(4, ...recap.map((r) => r.host.length));
  return [
    'PLAY RECAP',
    ...recap.map(
      (r) =>
        `${r.host.padEnd(width)} : ok=${r.ok}  changed=${r.changed}  unreachable=${r.unreachable}  failed=${r.failed}  skipped=${r.skipped}`,
    ),
  ];
}

/**
 * Per host the run did not finish: why, what it did, and what the next run will do there (the
 * plays still to run, handlers that were notified and did not run). Empty when nothing is left.
 */
export function formatLeftBehind(hosts: readonly HostLeftBehind[]): string[] {
  if (hosts.length === 0) return [];
  const width = Math.max(4, ...hosts.map((h) => h.host.length));
  const pad = ' '.repeat(width + 2);
  const lines = [`LEFT FOR THE NEXT RUN (${hosts.length} host${hosts.length === 1 ? '' : 's'})`];
  for (const h of hosts) {
    lines.push(`${h.host.padEnd(width)}  ${h.why}${h.at ? ` at ${h.at}` : ''}`);
    lines.push(`${pad}done: ${h.done.length > 0 ? h.done.join(', ') : 'nothing'}`);
    if (h.pending.length > 0) lines.push(`${pad}not done: ${h.pending.join(', ')}`);
    if (h.handlers.length > 0) lines.push(`${pad}handlers not run: ${h.handlers.join(', ')}`);
  }
  return lines;
}

/** The line shown when the run starts stopping early. */
export function formatStop(event: Extract<RunEvent, { type: 'run:stop' }>): string {
  return `STOPPING: ${event.reason}: nothing new starts; steps under way get up to ${formatDuration(event.graceMs)} to end`;
}

/** One line saying how the run ended. */
export function formatOutcome(event: Extract<RunEvent, { type: 'run:finish' }>): string {
  const failed = event.recap.filter((r) => r.failed > 0 || r.unreachable > 0).map((r) => r.host);
  const changed = event.recap.filter((r) => r.changed > 0).length;
  const took = formatDuration(event.durationMs);
  if (event.status === 'interrupted') {
    return `INTERRUPTED: ${event.stopped ?? 'interrupted'}${failed.length > 0 ? `; FAILED on ${failed.join(', ')}` : ''} (${took})`;
  }
  if (failed.length > 0) return `FAILED on ${failed.join(', ')} (${took})`;
  if (event.dryRun) return changed > 0 ? `plan: ${changed} host(s) would change; nothing was modified (${took})` : `plan: no changes (${took})`;
  return changed > 0 ? `done: ${changed} host(s) changed (${took})` : `done: no changes (${took})`;
}

/**
 * Collects a run's changes per host so a plan can be printed grouped by host (hosts run in
 * parallel, so the event stream interleaves them).
 */
export class PlanCollector {
  private readonly hosts = new Map<string, { tasks: TaskFinishEvent[]; handlers: string[] }>();
  private order: string[] = [];

  add(event: RunEvent): void {
    if (event.type === 'run:start') this.order = [...event.hosts];
    if (event.type === 'task:finish' && event.changes.length > 0) this.entry(event.host).tasks.push(event);
    if (event.type === 'handler:finish' && event.status === 'changed') this.entry(event.host).handlers.push(event.handler);
  }

  private entry(host: string): { tasks: TaskFinishEvent[]; handlers: string[] } {
    let e = this.hosts.get(host);
    if (!e) {
      e = { tasks: [], handlers: [] };
      this.hosts.set(host, e);
    }
    return e;
  }

  /** Per host: each changed task, its changes and diffs, then the handlers that would run. */
  format(): string[] {
    const lines: string[] = ['PLAN (dry run: nothing was changed on any host)'];
    for (const host of this.order) {
      const e = this.hosts.get(host);
      const count = e ? e.tasks.reduce((n, t) => n + t.changes.length, 0) : 0;
      lines.push(`${host}: ${count === 0 ? 'no changes' : `${count} change${count === 1 ? '' : 's'}`}`);
      if (!e) continue;
      for (const t of e.tasks) {
        lines.push(`  ${t.role}: ${t.task}`);
        for (const c of t.changes) {
          lines.push(`    ~ ${c.summary}`);
          if (c.diff) for (const d of c.diff.replace(/\n$/, '').split('\n')) lines.push(`      ${d}`);
        }
      }
      for (const h of e.handlers) lines.push(`  handler: ${h}`);
    }
    return lines;
  }
}

export function failureLines(host: string, step: string, error: Parameters<typeof formatFailure>[2]): string[] {
  return formatFailure(host, step, error).split('\n');
}
