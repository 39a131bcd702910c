/**
 * A verification as a task: it changes nothing, so `check` either returns no changes (healthy)
 * or throws. It waits, bounded, for the thing to become healthy, and when it does not, the error
 * carries the `systemctl status` and last journal lines of the units that explain it rather than
 * a retry count. In a plan it looks once and warns instead of failing: a plan is a preview.
 */
import { HostStepError } from '../../engine/errors.js';
import { unitDiagnostics } from '../../engine/tasks/index.js';
import { waitUntil, WaitTimeoutError } from '../../engine/wait.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { ProbeCommand } from '../../engine/contract.js';
import type { ClusterTask, ClusterTaskContext } from '../../cluster/run.js';

/** What a probe saw: nothing wrong, or what is wrong and which units on this host explain it. */
export type ProbeResult = { healthy: true } | { healthy: false; problem: string; units: readonly string[]; detail?: readonly string[] };

export const HEALTHY: ProbeResult = { healthy: true };

export function unhealthy(problem: string, units: readonly string[], detail?: readonly string[]): ProbeResult {
  return { healthy: false, problem, units, ...(detail ? { detail } : {}) };
}

export interface VerificationOptions {
  name: string;
  /** Bound on the wait for health; 0 looks once (for what waiting cannot fix). */
  timeoutMs: number;
  /** Pause between looks. */
  intervalMs: number;
  /** One look at the host; a thrown error counts as unhealthy, explained by `units`. */
  probe(host: RemoteHost, ctx: ClusterTaskContext): Promise<ProbeResult>;
  /** Units to show when the probe itself throws (e.g. the tool it runs is missing). */
  units: readonly string[];
  /** Second line of the error: what to look at next. */
  hint?: string;
  /** Commands the probe runs, read ahead with the host's other reads so a healthy look costs no round trip. */
  reads?: readonly ProbeCommand[];
}

async function look(options: VerificationOptions, host: RemoteHost, ctx: ClusterTaskContext): Promise<ProbeResult> {
  try {
    return await options.probe(host, ctx);
  } catch (err) {
    return unhealthy(err instanceof Error ? err.message : String(err), options.units);
  }
}

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

/** `kubelet.service is failed` for the first of `units` that is not running nor starting. */
async function stoppedUnit(host: RemoteHost, units: readonly string[]): Promise<string | undefined> {
  for (const unit of units) {
    const state = (await host.exec(['systemctl', 'is-active', '--', unit])).stdout.trim();
    if (state === 'failed' || state === 'inactive') return `${unit} is ${state}`;
  }
  return undefined;
}

export function verification(options: VerificationOptions): ClusterTask {
  return {
    name: options.name,
    ...(options.reads ? { reads: () => ({ commands: options.reads }) } : {}),
    async check(host, ctx) {
      if (ctx.dryRun) {
        const seen = await look(options, host, ctx);
        if (!seen.healthy) {
          const wait = options.timeoutMs > 0 ? `; apply waits up to ${seconds(options.timeoutMs)} for it` : '';
          ctx.warn(`${options.name}: not healthy now (${seen.problem})${wait}`);
        }
        return [];
      }
      let last: ProbeResult = HEALTHY;
      let down: string | undefined;
      try {
        await waitUntil(
          async () => {
            last = await look(options, host, ctx);
            if (last.healthy) return true;
            // A unit that stopped or failed will not recover by waiting: report it at once.
            down = await stoppedUnit(host, last.units);
            return down !== undefined ? true : undefined;
          },
          { what: options.name, timeoutMs: options.timeoutMs, intervalMs: options.intervalMs },
        );
        if (last.healthy) return [];
      } catch (err) {
        if (!(err instanceof WaitTimeoutError) || last.healthy) throw err;
      }
      const failed = last;
      const diagnostics: string[] = [...(failed.detail ?? [])];
      for (const unit of failed.units) {
        const lines = await unitDiagnostics(host, unit);
        diagnostics.push(...(lines.length > 0 ? lines : [`${unit}: no unit status or journal on this host (is the unit installed?)`]));
      }
      const why = down !== undefined ? ` (${down})` : options.timeoutMs > 0 ? ` (still after ${seconds(options.timeoutMs)})` : '';
      throw new HostStepError(
        host.name,
        `${failed.problem}${why}`,
        diagnostics,
        options.hint ?? (failed.units.length > 0 ? `see: ${failed.units.map((u) => `journalctl -u ${u}`).join('; ')}` : undefined),
      );
    },
    async apply() {
      // check never reports changes: verifying changes nothing.
    },
  };
}
