/**
 * A gate a play passes only with a healthy service: a read-only probe (`ctr version`, an HTTP
 * healthz) that must succeed, waited for with a bound; a failure carries the unit's `systemctl
 * status` and last journal lines. On a healthy host the probe's answer comes from the play's
 * read-ahead (taken only while the unit is active), so the gate costs no command of its own.
 */
import type { Change, ProbeCommand, Task, TaskContext } from '../contract.js';
import type { ExecResult, RemoteHost } from '../../ssh/types.js';
import { HostStepError } from '../errors.js';
import { probe } from '../read-cache.js';
import { waitUntil, WaitTimeoutError } from '../wait.js';
import { unitDiagnostics, type HealthProbe } from './service.js';
import { unitName } from './unit-state.js';

export interface ProbeWait {
  /** The unit whose status and journal explain a failure. */
  unit: string;
  /** What is awaited, for messages: `containerd to answer \`ctr version\``. */
  what: string;
  /** The failure's first words: `containerd does not answer on /run/containerd/containerd.sock`. */
  failure: string;
  accept?(result: ExecResult): boolean;
  timeoutMs?: number;
  intervalMs?: number;
}

/** One look: the probe passes now (its answer may come from the read-ahead). */
export async function probePasses(host: RemoteHost, command: ProbeCommand, accept?: (r: ExecResult) => boolean, ctx?: Pick<TaskContext, 'cache'>): Promise<boolean> {
  const result = await probe(host, command, ctx);
  return result.code === 0 && (accept?.(result) ?? true);
}

/** Waits (bounded) until the probe passes; else fails with the unit's diagnostics, not a retry count. */
export async function waitForProbe(host: RemoteHost, command: ProbeCommand, o: ProbeWait, ctx?: Pick<TaskContext, 'cache'>): Promise<void> {
  const unit = unitName(o.unit);
  try {
    await waitUntil(async () => ((await probePasses(host, command, o.accept, ctx)) ? true : undefined), {
      what: o.what,
      timeoutMs: o.timeoutMs ?? 30_000,
      intervalMs: o.intervalMs ?? 500,
    });
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    throw new HostStepError(host.name, `${o.failure}: ${err.message}`, await unitDiagnostics(host, unit), `see: journalctl -u ${unit}`);
  }
}

export interface HealthGateOptions extends Omit<ProbeWait, 'accept'> {
  name: string;
  healthy: HealthProbe;
}

/** A task that changes nothing and fails unless the probe passes (in a plan: one look, and "would wait"). */
export function healthGate(o: HealthGateOptions): Task {
  const unit = unitName(o.unit);
  const wait: ProbeWait = { ...o, unit, ...(o.healthy.accept ? { accept: o.healthy.accept } : {}) };
  return {
    name: o.name,
    // Read ahead only while the unit runs: on a fresh host the answer comes after the start.
    reads: async (ctx) => ({ commands: [{ ...(await o.healthy.command(ctx)), whenActive: unit }] }),
    async check(host, ctx): Promise<Change[]> {
      const command = await o.healthy.command(ctx);
      if (ctx.dryRun) {
        // Earlier tasks of a plan installed and started nothing: one look, no waiting.
        return (await probePasses(host, command, wait.accept, ctx)) ? [] : [{ kind: 'custom', summary: `wait for ${o.what}` }];
      }
      await waitForProbe(host, command, wait, ctx);
      return [];
    },
    async apply() {
      // Only reached in a plan's summary: check already waited.
    },
  };
}
