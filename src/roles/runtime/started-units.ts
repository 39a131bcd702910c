/**
 * Starting a service and then restarting it at the end of the same play would run it twice: on a
 * fresh host the files that notify the restart handler are written before the service task
 * starts the unit, so the process already read them. These wrappers remember, per host and run,
 * which units the service task started and how many paths the run had changed by then; their
 * restart handler skips the restart when nothing changed since that start (it still waits for
 * the unit to be healthy). A unit that was already running is restarted as usual.
 */
import { restartHandler, service, unitName, type RestartOptions, type ServiceChange, type ServiceOptions } from '../../engine/tasks/index.js';
import type { Handler, HostRunState, Task } from '../types.js';

/** Per host run: unit → number of paths changed in the run when the unit was started. */
const startedUnits = new WeakMap<HostRunState, Map<string, number>>();

function started(state: HostRunState): Map<string, number> {
  let map = startedUnits.get(state);
  if (!map) startedUnits.set(state, (map = new Map()));
  return map;
}

/** The engine's `service` task, remembering when it started the unit. */
export function startedService(options: ServiceOptions): Task<ServiceChange> {
  const inner = service(options);
  const unit = unitName(options.unit);
  return {
    ...inner,
    async apply(host, changes, ctx) {
      await inner.apply(host, changes, ctx);
      if (changes.some((c) => c.action === 'start')) started(ctx.state).set(unit, ctx.state.changedPaths.length);
    },
  };
}

/** The engine's restart handler, except for a unit `startedService` started in this run. */
export function restartUnlessJustStarted(options: RestartOptions): Handler {
  const inner = restartHandler(options);
  const unit = unitName(options.unit);
  return {
    ...inner,
    async run(host, ctx) {
      const startedAt = started(ctx.state).get(unit);
      started(ctx.state).delete(unit);
      // Started after every change that notified this handler: the process already read them.
      if (startedAt === ctx.state.changedPaths.length && ctx.state.unitFilesPendingReload().length === 0) return;
      await inner.run(host, ctx);
    },
  };
}
