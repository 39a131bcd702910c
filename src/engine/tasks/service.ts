/**
 * Desired state of a systemd unit (enabled and active by default), and the handler that restarts
 * one. `systemctl daemon-reload` runs only when a unit file changed in this run (or systemd
 * itself says it needs one), never on a no-op run.
 */
import type { Change, Handler, Task, TaskContext } from '../../roles/types.js';
import type { RemoteHost } from '../../ssh/types.js';
import { HostStepError, tailLines } from '../errors.js';
import { waitUntil, WaitTimeoutError } from '../wait.js';
import { meta, type TaskMeta } from './file.js';

export interface ServiceOptions extends TaskMeta {
  name?: string;
  /** `etcd` or `etcd.service`. */
  unit: string;
  /** Default true. */
  enabled?: boolean;
  /** Default `started`. */
  state?: 'started' | 'stopped';
}

export interface ServiceChange extends Change {
  kind: 'service';
  action: 'daemon-reload' | 'enable' | 'disable' | 'start' | 'stop';
}

export function unitName(unit: string): string {
  return /\.(service|socket|timer|target|mount|path|slice|scope)$/.test(unit) ? unit : `${unit}.service`;
}

// States in which `systemctl is-enabled` would say the unit starts at boot or needs no enabling.
const ENABLED_STATES = new Set(['enabled', 'enabled-runtime', 'static', 'generated', 'alias', 'indirect']);
const RUNNING_STATES = new Set(['active', 'reloading', 'activating']);

export interface UnitState {
  loadState: string;
  activeState: string;
  unitFileState: string;
  needDaemonReload: boolean;
}

/** One command for everything the helper needs to know about a unit. */
export async function unitState(host: RemoteHost, unit: string): Promise<UnitState> {
  const result = await host.run([
    'systemctl',
    'show',
    '--property=LoadState,ActiveState,UnitFileState,NeedDaemonReload',
    '--',
    unit,
  ]);
  const props = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) props.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return {
    loadState: props.get('LoadState') ?? '',
    activeState: props.get('ActiveState') ?? '',
    unitFileState: props.get('UnitFileState') ?? '',
    needDaemonReload: props.get('NeedDaemonReload') === 'yes',
  };
}

export function service(options: ServiceOptions): Task<ServiceChange> {
  const unit = unitName(options.unit);
  const wantEnabled = options.enabled ?? true;
  const wantRunning = (options.state ?? 'started') === 'started';
  return {
    name: options.name ?? `service ${unit}`,
    ...meta(options),
    async check(host, ctx) {
      const changes: ServiceChange[] = [];
      const pending = ctx.state.unitFilesPendingReload();
      const state = await unitState(host, unit);
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
      if (wantRunning && !running) changes.push({ kind: 'service', action: 'start', summary: `start ${unit} (now ${state.activeState || 'unknown'})` });
      if (!wantRunning && running) changes.push({ kind: 'service', action: 'stop', summary: `stop ${unit}` });
      return changes;
    },
    async apply(host, changes, ctx) {
      for (const change of changes) {
        if (change.action === 'daemon-reload') {
          await host.run(['systemctl', 'daemon-reload']);
          ctx.state.markDaemonReloaded();
        } else {
          await host.run(['systemctl', change.action, '--', unit]);
        }
      }
      if (changes.some((c) => c.action === 'start')) await waitActive(host, unit, { timeoutMs: 30_000, intervalMs: 500 });
    },
  };
}

export interface RestartOptions {
  /** Handler name tasks notify (default `restart <unit>`). */
  name?: string;
  unit: string;
  /** One host at a time, each healthy before the next (control-plane services). */
  rolling?: boolean;
  /** Extra readiness probe after the unit is active (e.g. an HTTPS /healthz); true when ready. */
  healthy?: (host: RemoteHost, ctx: TaskContext) => Promise<boolean>;
  /** Bound on the health wait (default 60 s). */
  timeoutMs?: number;
  intervalMs?: number;
}

/** A handler restarting a unit, reloading systemd first when a unit file changed in this run. */
export function restartHandler(options: RestartOptions): Handler {
  const unit = unitName(options.unit);
  const wait = { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: options.intervalMs ?? 1_000 };
  return {
    name: options.name ?? `restart ${options.unit}`,
    ...(options.rolling ? { rolling: true } : {}),
    async run(host, ctx) {
      if (ctx.state.unitFilesPendingReload().length > 0) {
        await host.run(['systemctl', 'daemon-reload']);
        ctx.state.markDaemonReloaded();
      }
      await host.run(['systemctl', 'restart', '--', unit]);
    },
    async waitHealthy(host, ctx) {
      await waitActive(host, unit, wait, options.healthy ? () => options.healthy!(host, ctx) : undefined);
    },
  };
}

/**
 * Waits (bounded) until the unit is active and, if given, `ready` says so; on timeout fails with
 * the unit's `systemctl status` and last journal lines rather than a retry count.
 */
export async function waitActive(
  host: RemoteHost,
  unit: string,
  wait: { timeoutMs: number; intervalMs: number },
  ready?: () => Promise<boolean>,
): Promise<void> {
  let outcome: 'healthy' | 'failed';
  try {
    outcome = await waitUntil(
      async () => {
        const active = (await host.exec(['systemctl', 'is-active', '--', unit])).stdout.trim();
        // A failed unit will not recover by waiting: report it at once.
        if (active === 'failed') return 'failed';
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
