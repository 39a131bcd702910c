/**
 * Desired state of a systemd unit (enabled and active by default), waiting for it after a start,
 * and the handler that restarts one. `systemctl daemon-reload` runs only when a unit file changed
 * in this run (or systemd itself says it needs one), never on a no-op run.
 *
 * Starting a service and then restarting it at the end of the same play would run it twice: on a
 * fresh host the files that notify the restart handler are written before the service task
 * starts the unit, so the process already read them. The run state remembers when each unit was
 * started; the handler skips the restart (still waiting for health) when no path changed since.
 */
import type { Change, Handler, ProbeCommand, Task, TaskContext } from '../contract.js';
import type { ExecResult, RemoteHost } from '../../ssh/types.js';
import { HostStepError, tailLines } from '../errors.js';
import { probe, unitOf } from '../read-cache.js';
import { waitUntil, WaitTimeoutError } from '../wait.js';
import { meta, type TaskMeta } from './file.js';
import { unitName, unitState } from './unit-state.js';

/** A read-only command that says whether a service is ready: exit status 0 and, if given, `accept`. */
export interface HealthProbe<R = unknown> {
  command(ctx: TaskContext<R>): ProbeCommand | Promise<ProbeCommand>;
  accept?(result: ExecResult): boolean;
}

/** Whether the probe passes now (its result may come from the play's read-ahead). */
export async function probeHealthy<R>(host: RemoteHost, ctx: TaskContext<R>, healthy: HealthProbe<R>): Promise<boolean> {
  const result = await probe(host, await healthy.command(ctx), ctx);
  return result.code === 0 && (healthy.accept?.(result) ?? true);
}

export interface WaitBounds {
  /** Bound on the wait (default 30 s for a start, 60 s after a restart). */
  timeoutMs?: number;
  intervalMs?: number;
}

export interface ServiceOptions<R = unknown> extends TaskMeta, WaitBounds {
  name?: string;
  /** `etcd` or `etcd.service`. */
  unit: string;
  /** Default true. */
  enabled?: boolean;
  /** Default `started`. */
  state?: 'started' | 'stopped';
  /**
   * After starting the unit, wait (bounded) until it is active and `healthy` passes. false:
   * `systemctl start --no-block` and no wait, for units that need each other to become ready
   * (the members of a new etcd cluster); a `waitStarted` task waits for them later. Default true.
   */
  wait?: boolean;
  healthy?: HealthProbe<R>;
}

export interface ServiceChange extends Change {
  kind: 'service';
  action: 'daemon-reload' | 'enable' | 'disable' | 'start' | 'stop';
}

// States in which `systemctl is-enabled` would say the unit starts at boot or needs no enabling.
const ENABLED_STATES = new Set(['enabled', 'enabled-runtime', 'static', 'generated', 'alias', 'indirect']);
const RUNNING_STATES = new Set(['active', 'reloading', 'activating']);

function readyProbe<R>(host: RemoteHost, ctx: TaskContext<R>, healthy: HealthProbe<R> | undefined): (() => Promise<boolean>) | undefined {
  return healthy ? () => probeHealthy(host, ctx, healthy) : undefined;
}

export function service<R = unknown>(options: ServiceOptions<R>): Task<ServiceChange, R> {
  const unit = unitName(options.unit);
  const wantEnabled = options.enabled ?? true;
  const wantRunning = (options.state ?? 'started') === 'started';
  const wait = options.wait ?? true;
  return {
    name: options.name ?? `service ${unit}`,
    ...meta(options),
    reads: () => ({ units: [unit] }),
    async check(host, ctx) {
      const changes: ServiceChange[] = [];
      const pending = ctx.state.unitFilesPendingReload();
      const state = await unitOf(host, unit, ctx);
      if (pending.length > 0 || state.needDaemonReload) {
        const why = pending.length > 0 ? `changed: ${pending.join(', ')}` : `systemd reports ${unit} changed on disk`;
        changes.push({ kind: 'service', action: 'daemon-reload', summary: `systemctl daemon-reload (${why})` });
        // In a dry run apply never runs; later units must not each report the same reload.
        if (ctx.dryRun) ctx.state.markDaemonReloaded();
      }
      const enabled = ENABLED_STATES.has(state.unitFileState);
      if (wantEnabled && !enabled) changes.push({ kind: 'service', action: 'enable', summary: `enable ${unit}` });
      if (!wantEnabled && state.unitFileState === 'enabled') changes.push({ kind: 'service', action: 'disable', summary: `disable ${unit}` });
      const running = RUNNING_STATES.has(state.activeState);
      if (wantRunning && !running) {
        changes.push({ kind: 'service', action: 'start', summary: `start ${unit}${wait ? '' : ' (without waiting)'} (now ${state.activeState || 'unknown'})` });
        // A plan says what the run would do, handlers included: this start would precede them.
        if (ctx.dryRun) ctx.state.markUnitStarted(unit);
      }
      if (!wantRunning && running) changes.push({ kind: 'service', action: 'stop', summary: `stop ${unit}` });
      return changes;
    },
    async apply(host, changes, ctx) {
      for (const change of changes) {
        if (change.action === 'daemon-reload') {
          await host.run(['systemctl', 'daemon-reload']);
          ctx.state.markDaemonReloaded();
        } else if (change.action === 'start') {
          await host.run(['systemctl', 'start', ...(wait ? [] : ['--no-block']), '--', unit]);
          ctx.state.markUnitStarted(unit);
        } else {
          await host.run(['systemctl', change.action, '--', unit]);
        }
      }
      if (wait && changes.some((c) => c.action === 'start')) {
        await waitActive(host, unit, { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: options.intervalMs ?? 500 }, readyProbe(host, ctx, options.healthy));
      }
    },
  };
}

export interface WaitStartedOptions<R = unknown> extends WaitBounds {
  name?: string;
  unit: string;
  healthy?: HealthProbe<R>;
  /**
   * Wait on every run, not only after this run started the unit (a gate the play passes only with
   * a healthy service). The unit's state and the probe are read ahead with the play's other reads,
   * so on a healthy host the gate costs no command of its own. Default false.
   */
  always?: boolean;
}

/**
 * Waits (bounded) until a unit is active and healthy: one this run started (with `wait: false`),
 * or with `always`, whatever started it. Never reports a change, except in a plan with `always`,
 * where one look that finds it unhealthy reports that the run would wait.
 */
export function waitStarted<R = unknown>(options: WaitStartedOptions<R>): Task<Change, R> {
  const unit = unitName(options.unit);
  const bounds = { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: options.intervalMs ?? 500 };
  return {
    name: options.name ?? `wait until ${unit} is healthy`,
    async reads(ctx) {
      if (!options.always) return {};
      const command = options.healthy ? await options.healthy.command(ctx) : undefined;
      return { units: [unit], ...(command ? { commands: [{ ...command, whenActive: unit }] } : {}) };
    },
    async check(host, ctx): Promise<Change[]> {
      if (!options.always && !ctx.state.startedInRun(unit)) return [];
      if (ctx.dryRun) {
        if (!options.always) return [];
        const active = (await unitOf(host, unit, ctx)).activeState === 'active';
        const ready = active && (!options.healthy || (await probeHealthy(host, ctx, options.healthy)));
        return ready ? [] : [{ kind: 'custom', summary: `wait for ${unit} to be healthy` }];
      }
      await waitActive(host, unit, bounds, readyProbe(host, ctx, options.healthy), ctx);
      return [];
    },
    async apply() {
      // Only reached in a plan's summary: check already waited.
    },
  };
}

export interface RestartOptions<R = unknown> extends WaitBounds {
  /** Handler name tasks notify (default `restart <unit>`). */
  name?: string;
  unit: string;
  /** One host at a time, each healthy before the next (control-plane services). */
  rolling?: boolean;
  /** Readiness after the unit is active (e.g. an HTTPS /healthz). */
  healthy?: HealthProbe<R>;
}

/**
 * A handler restarting a unit, reloading systemd first when a unit file changed in this run (or
 * systemd says it must), and skipping the restart where this run started the unit after every
 * change (it still waits for the unit to be healthy). It names its unit, so the engine's pending
 * record (pending.ts) says which service runs on old files.
 */
export function restartHandler<R = unknown>(options: RestartOptions<R>): Handler<R> {
  const unit = unitName(options.unit);
  const bounds = { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: options.intervalMs ?? 1_000 };
  return {
    name: options.name ?? `restart ${options.unit}`,
    unit,
    ...(options.rolling ? { rolling: true } : {}),
    skipReason(ctx) {
      return ctx.state.startedSinceLastChange(unit) ? `${unit} was started by this run after every change that notified it` : undefined;
    },
    async run(host, ctx) {
      // A unit file written by an earlier, interrupted run is not in this run's list: ask systemd,
      // or the restart would start the old command line again.
      if (ctx.state.unitFilesPendingReload().length > 0 || (await unitState(host, unit)).needDaemonReload) {
        await host.run(['systemctl', 'daemon-reload']);
        ctx.state.markDaemonReloaded();
      }
      await host.run(['systemctl', 'restart', '--', unit]);
      ctx.state.markUnitStarted(unit);
    },
    async waitHealthy(host, ctx) {
      await waitActive(host, unit, bounds, readyProbe(host, ctx, options.healthy));
    },
  };
}

/**
 * Waits (bounded) until the unit is active and, if given, `ready` says so; on timeout fails with
 * the unit's `systemctl status` and last journal lines rather than a retry count. With `ctx`, the
 * first look at the unit may come from the play's read-ahead.
 */
export async function waitActive(
  host: RemoteHost,
  unit: string,
  wait: { timeoutMs: number; intervalMs: number },
  ready?: () => Promise<boolean>,
  ctx?: Pick<TaskContext, 'cache'>,
): Promise<void> {
  let first = true;
  // Restart=on-failure keeps a crashing unit "activating" forever: count its restarts instead.
  let restartsAtStart: number | undefined;
  const CRASH_LOOP_RESTARTS = 2;
  const current = async (): Promise<{ active: string; restarts?: number }> => {
    if (first && ctx?.cache) {
      first = false;
      return { active: (await ctx.cache.unit(host, unit)).activeState };
    }
    const r = await host.exec(['systemctl', 'show', '--property=ActiveState,NRestarts', '--', unit]);
    const props = new Map(r.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()] as const));
    const restarts = Number(props.get('NRestarts'));
    return { active: props.get('ActiveState') ?? '', ...(Number.isFinite(restarts) ? { restarts } : {}) };
  };
  let outcome: 'healthy' | 'failed' | 'crash-loop';
  try {
    outcome = await waitUntil(
      async () => {
        const { active, restarts } = await current();
        // A failed unit will not recover by waiting: report it at once.
        if (active === 'failed') return 'failed';
        if (restarts !== undefined) {
          restartsAtStart ??= restarts;
          if (restarts - restartsAtStart >= CRASH_LOOP_RESTARTS) return 'crash-loop';
        }
        if (active !== 'active') return undefined;
        if (ready && !(await ready())) return undefined;
        return 'healthy';
      },
      { what: `${unit} to be healthy`, ...wait },
    );
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    throw new HostStepError(host.name, `${unit} did not become healthy: ${err.message}`, await unitDiagnostics(host, unit), `see: journalctl -u ${unit}`);
  }
  if (outcome === 'crash-loop') {
    throw new HostStepError(host.name, `${unit} keeps exiting (systemd restarted it ${CRASH_LOOP_RESTARTS} times while kprov waited)`, await unitDiagnostics(host, unit), `see: journalctl -u ${unit}`);
  }
  if (outcome === 'failed') {
    throw new HostStepError(host.name, `${unit} failed`, await unitDiagnostics(host, unit), `see: journalctl -u ${unit}`);
  }
}

/** `systemctl status` and the last journal lines of a unit, for failure messages. */
export async function unitDiagnostics(host: RemoteHost, unit: string): Promise<string[]> {
  const status = await host.exec(['systemctl', 'status', '--no-pager', '--full', '--lines=0', '--', unit]).catch(() => undefined);
  const journal = await host.exec(['journalctl', '--no-pager', '-o', 'cat', '-n', '15', '-u', unit]).catch(() => undefined);
  return [...tailLines(status?.stdout ?? '', 8), ...tailLines(journal?.stdout ?? '', 15)];
}
