/**
 * What a run that did not finish everywhere leaves to the next one, per host: the plays done, the
 * plays not (or not fully) done, and handlers notified but not run. The recap names these hosts.
 */
import type { HostLeftBehind } from './events.js';
import type { HostSession } from './host-session.js';
import type { RunPlan } from './run-plan.js';

export function leftBehind(plan: RunPlan, sessions: ReadonlyMap<string, HostSession>): HostLeftBehind[] {
  const out: HostLeftBehind[] = [];
  for (const host of plan.hosts) {
    const session = sessions.get(host.name)!;
    const plays = plan.plays.filter((p) => p.hosts.some((h) => h.name === host.name)).map((p) => p.play.name);
    const pending = plays.filter((p) => !session.donePlays.has(p));
    if (pending.length === 0 && session.unrunHandlers.length === 0 && session.usable) continue;
    const at = session.failure ? `${session.failure.play}: ${session.failure.step}` : session.interruptedAt;
    out.push({
      host: host.name,
      why: session.isUnreachable ? 'unreachable' : !session.usable ? 'failed' : session.interruptedAt !== undefined ? 'interrupted' : 'stopped',
      ...(at !== undefined ? { at } : {}),
      done: plays.filter((p) => session.donePlays.has(p)),
      pending,
      handlers: [...session.unrunHandlers],
    });
  }
  return out;
}
