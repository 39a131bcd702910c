/**
 * Plain lines for logs and non-terminals: one line per finished task, handler and host problem,
 * as they happen, then the plan (dry run) and the PLAY RECAP.
 */
import type { EventSink, RunEvent } from '../events.js';
import { failureLines, formatDuration, formatLeftBehind, formatOutcome, formatRecap, formatStop, PlanCollector } from './format.js';
import type { Renderer } from './renderer.js';

export interface PlainDetail {
  /** Each change's diff under it in apply output too (plans always show them). */
  diff?: boolean;
  /** 1: what was read ahead per host; 2: also each task as it starts. */
  verbosity?: number;
}

export function plainRenderer(out: (line: string) => void, detail: PlainDetail = {}): Renderer {
  const verbosity = detail.verbosity ?? 0;
  const plan = new PlanCollector();
  let width = 4;
  let dryRun = false;
  const host = (name: string) => name.padEnd(width);

  const sink: EventSink = (e: RunEvent) => {
    plan.add(e);
    switch (e.type) {
      case 'run:start':
        dryRun = e.dryRun;
        width = Math.max(4, ...e.hosts.map((h) => h.length));
        out(`${e.dryRun ? 'PLAN' : 'APPLY'} ${e.playbook} on ${e.hosts.length} host(s)${e.limit ? ` (limit ${e.limit})` : ''}`);
        break;
      case 'play:start':
        out('');
        out(`PLAY [${e.play}] ${e.hosts.length} host(s)${e.serial ? `, ${e.serial} at a time` : ''}`);
        break;
      case 'play:skip':
        out('');
        out(`PLAY [${e.play}] skipped: ${e.reason}`);
        break;
      case 'task:finish': {
        const status = e.status === 'failed' ? 'FAILED' : e.status === 'unreachable' ? 'UNREACHABLE' : e.status;
        out(`  ${host(e.host)}  ${status.padEnd(7)}  ${e.role}: ${e.task}  ${formatDuration(e.durationMs)}${e.reason ? `  (${e.reason})` : ''}`);
        // In a dry run the changes are listed with their diffs in the plan at the end.
        if (!dryRun) {
          for (const c of e.changes) {
            out(`  ${host('')}           ~ ${c.summary}`);
            if (detail.diff && c.diff) for (const d of c.diff.replace(/\n$/, '').split('\n')) out(`  ${host('')}             ${d}`);
          }
        }
        break;
      }
      case 'task:start':
        if (verbosity >= 2) out(`  ${host(e.host)}  start    ${e.role}: ${e.task}`);
        break;
      case 'host:read':
        if (verbosity >= 1) out(`  ${host(e.host)}  read     ${e.paths} paths, ${e.units} units, ${e.commands} probes in one command  ${formatDuration(e.durationMs)}`);
        break;
      case 'host:finish':
        if (e.error && (e.status === 'failed' || e.status === 'unreachable' || e.status === 'interrupted')) {
          for (const l of failureLines(e.host, e.step ?? 'run', e.error)) out(`  ${e.status.toUpperCase()} ${l}`);
        } else if (e.status === 'skipped' || e.status === 'interrupted') {
          out(`  ${host(e.host)}  skipped  ${e.reason ?? ''}`);
        }
        break;
      case 'handlers:start':
        for (const r of e.runs) out(`  HANDLER ${r.handler}${r.rolling ? ' (rolling, one host at a time)' : ''}: ${r.hosts.join(', ')}`);
        break;
      case 'handler:finish': {
        const status = e.status === 'failed' ? 'FAILED' : e.status;
        out(`  ${host(e.host)}  ${status.padEnd(7)}  handler: ${e.handler}  ${formatDuration(e.durationMs)}${e.reason ? `  (${e.reason})` : ''}`);
        if (e.error) for (const l of failureLines(e.host, `handler ${e.handler}`, e.error)) out(`  FAILED ${l}`);
        break;
      }
      case 'play:finish':
        if (e.error) for (const l of failureLines('play', e.play, e.error)) out(`  FAILED ${l}`);
        out(`PLAY [${e.play}] ${e.status} in ${formatDuration(e.durationMs)}`);
        break;
      case 'warning':
        out(`  WARNING ${e.host ? `${e.host}: ` : ''}${e.message}`);
        break;
      case 'run:stop':
        out(formatStop(e));
        break;
      case 'run:finish':
        out('');
        if (e.dryRun) {
          for (const l of plan.format()) out(l);
          out('');
        }
        for (const l of formatRecap(e.recap)) out(l);
        for (const l of formatLeftBehind(e.leftBehind)) out(l);
        out(formatOutcome(e));
        break;
      default:
        break;
    }
  };
  return { sink, done: async () => undefined };
}
