/**
 * Starting and restarting the cluster's services (etcd here, the control plane reuses it).
 * Two refinements over the engine's service/restartHandler helpers:
 * - a start may be fire-and-forget (`systemctl start --no-block`), so members of a new etcd
 *   cluster, which wait for each other's quorum, all start together;
 * - a restart handler does nothing on a host where this run itself started the unit: the process
 *   already read the files that notified it, so restarting it again would only cost time.
 */
import { unitState, unitName, waitActive } from '../../engine/tasks/index.js';
import type { Change, Handler, HostRunState, Task, TaskContext } from '../types.js';
import type { RemoteHost } from '../../ssh/types.js';

// What each host's run started, keyed by the host's run state (one per host per run).
const startedInRun = new WeakMap<HostRunState, Set<string>>();

export function markStarted(state: HostRunState, unit: string): void {
  let units = startedInRun.get(state);
  if (!units) startedInRun.set(state, (units = new Set()));
  units.add(unitName(unit));
}

export function startedInThisRun(state: HostRunState, unit: string): boolean {
  return startedInRun.get(state)?.has(unitName(unit)) ?? false;
}

export type HealthProbe = (host: RemoteHost, ctx: TaskContext) => Promise<boolean>;

export interface StartUnitOptions {
  unit: string;
  name?: string;
  tags?: readonly string[];
  /**
   * false: `systemctl start --no-block` and no wait (etcd members of a new cluster, which need
   * each other to become ready). true (default): wait until active and `healthy`, bounded.
   */
  wait?: boolean;
  healthy?: HealthProbe;
  timeoutMs?: number;
  intervalMs?: number;
}

interface StartChange extends Change {
  kind: 'service';
  action: 'daemon-reload' | 'enable' | 'start';
}

const RUNNING = new Set(['active', 'reloading', 'activating']);
const ENABLED = new Set(['enabled', 'enabled-runtime', 'static', 'generated', 'alias', 'indirect']);

/** A unit enabled and running; started (and, when waited for, healthy) if it was not. */
export function startUnit(options: StartUnitOptions): Task<StartChange> {
  const unit = unitName(options.unit);
  const wait = options.wait ?? true;
  return {
    name: options.name ?? `start ${unit}`,
    ...(options.tags ? { tags: options.tags } : {}),
    async check(host, ctx) {
      const changes: StartChange[] = [];
      const pending = ctx.state.unitFilesPendingReload();
      const state = await unitState(host, unit);
      if (pending.length > 0 || state.needDaemonReload) {
        const why = pending.length > 0 ? `changed: ${pending.join(', ')}` : `systemd reports ${unit} changed on disk`;
        changes.push({ kind: 'service', action: 'daemon-reload', summary: `systemctl daemon-reload (${why})` });
        if (ctx.dryRun) ctx.state.markDaemonReloaded();
      }
      if (!ENABLED.has(state.unitFileState)) changes.push({ kind: 'service', action: 'enable', summary: `enable ${unit}` });
      if (!RUNNING.has(state.activeState)) {
        changes.push({ kind: 'service', action: 'start', summary: `start ${unit}${wait ? '' : ' (without waiting)'} (now ${state.activeState || 'unknown'})` });
      }
      return changes;
    },
    async apply(host, changes, ctx) {
      for (const change of changes) {
        if (change.action === 'daemon-reload') {
          await host.run(['systemctl', 'daemon-reload']);
          ctx.state.markDaemonReloaded();
        } else if (change.action === 'enable') {
          await host.run(['systemctl', 'enable', '--', unit]);
        } else {
          await host.run(['systemctl', 'start', ...(wait ? [] : ['--no-block']), '--', unit]);
          markStarted(ctx.state, unit);
        }
      }
      if (wait && changes.some((c) => c.action === 'start')) {
        const probe = options.healthy;
        await waitActive(
          host,
          unit,
          { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: options.intervalMs ?? 500 },
          probe ? () => probe(host, ctx) : undefined,
        );
      }
    },
  };
}

/**
 * Waits (bounded) until a unit this run started with `wait: false` is active and healthy; a
 * no-op where the unit was already running. Never reports a change.
 */
export function waitStarted(options: { unit: string; name?: string; healthy?: HealthProbe; timeoutMs?: number; intervalMs?: number }): Task {
  const unit = unitName(options.unit);
  return {
    name: options.name ?? `wait until ${unit} is healthy`,
    async check(host, ctx) {
      if (ctx.dryRun || !startedInThisRun(ctx.state, unit)) return [];
      const probe = options.healthy;
      await waitActive(host, unit, { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: options.intervalMs ?? 500 }, probe ? () => probe(host, ctx) : undefined);
      return [];
    },
    async apply() {
      // check never reports changes.
    },
  };
}

export interface RestartOptions {
  /** Handler name tasks notify (default `restart <unit>`). */
  name?: string;
  unit: string;
  /** One host at a time, each healthy before the next. */
  rolling?: boolean;
  healthy?: HealthProbe;
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Restarts a unit (reloading systemd first when a unit file changed), then waits, bounded, until
 * it is active and healthy; on failure the error carries `systemctl status` and the journal.
 * Skipped where this run started the unit: it already runs with the new files.
 */
export function restartUnit(options: RestartOptions): Handler {
  const unit = unitName(options.unit);
  const wait = { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: options.intervalMs ?? 500 };
  return {
    name: options.name ?? `restart ${options.unit}`,
    ...(options.rolling ? { rolling: true } : {}),
    async run(host, ctx) {
      if (ctx.state.unitFilesPendingReload().length > 0) {
        await host.run(['systemctl', 'daemon-reload']);
        ctx.state.markDaemonReloaded();
      }
      if (startedInThisRun(ctx.state, unit)) return;
      await host.run(['systemctl', 'restart', '--', unit]);
    },
    async waitHealthy(host, ctx) {
      const probe = options.healthy;
      await waitActive(host, unit, wait, probe ? () => probe(host, ctx) : undefined);
    },
  };
}
