/**
 * "containerd answers": `ctr version` talks to the daemon over its socket, so a zero exit means
 * the runtime is up, not merely that its unit is active. Waited for with a bound; a failure
 * shows containerd's `systemctl status` and last journal lines.
 */
import { HostStepError } from '../../engine/errors.js';
import { unitDiagnostics } from '../../engine/tasks/index.js';
import { waitUntil, WaitTimeoutError } from '../../engine/wait.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { Change, Task } from '../types.js';

export interface CtrOptions {
  ctr: string;
  socket: string;
  timeoutMs?: number;
  intervalMs?: number;
}

/** One `ctr version` (bounded): true when the daemon answered. */
export async function ctrAnswers(host: RemoteHost, o: CtrOptions): Promise<boolean> {
  const r = await host.exec([o.ctr, '--address', o.socket, 'version'], { timeoutMs: 10_000 });
  return r.code === 0;
}

/** Waits (bounded) for `ctr version` to answer; throws with containerd's diagnostics when it does not. */
export async function waitForContainerd(host: RemoteHost, o: CtrOptions): Promise<void> {
  try {
    await waitUntil(async () => ((await ctrAnswers(host, o)) ? true : undefined), {
      what: '`ctr version` to answer',
      timeoutMs: o.timeoutMs ?? 30_000,
      intervalMs: o.intervalMs ?? 500,
    });
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    throw new HostStepError(host.name, `containerd does not answer on ${o.socket}: ${err.message}`, await unitDiagnostics(host, 'containerd.service'), 'see: journalctl -u containerd');
  }
}

/** A task that changes nothing and fails unless containerd answers (in a plan: reports that it would wait). */
export function containerdAnswersTask(o: CtrOptions): Task {
  return {
    name: 'containerd answers (ctr version)',
    async check(host, ctx): Promise<Change[]> {
      if (ctx.dryRun) {
        // Earlier tasks of a plan did not install or start anything: one look, no waiting.
        return (await ctrAnswers(host, o)) ? [] : [{ kind: 'custom', summary: 'wait for containerd to answer `ctr version`' }];
      }
      await waitForContainerd(host, o);
      return [];
    },
    async apply() {
      // Only reached in a plan's summary; check already waited.
    },
  };
}
