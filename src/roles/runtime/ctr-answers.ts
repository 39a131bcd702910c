/**
 * "containerd answers": `ctr version` talks to the daemon over its socket, so a zero exit means
 * the runtime is up, not merely that its unit is active. Waited for with a bound; a failure
 * shows containerd's `systemctl status` and last journal lines.
 */
import { healthGate, waitForProbe, type HealthProbe } from '../../engine/tasks/index.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { ProbeCommand } from '../../engine/contract.js';
import type { ClusterRun, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';

export interface CtrOptions {
  ctr: string;
  socket: string;
  timeoutMs?: number;
  intervalMs?: number;
}

export const CONTAINERD_UNIT = 'containerd.service';

/** `ctr version`, bounded. */
export function ctrVersion(o: Pick<CtrOptions, 'ctr' | 'socket'>): ProbeCommand {
  return { argv: [o.ctr, '--address', o.socket, 'version'], timeoutMs: 10_000 };
}

/** containerd is ready when `ctr version` answers. */
export function ctrHealth(o: (ctx: ClusterTaskContext) => Pick<CtrOptions, 'ctr' | 'socket'>): HealthProbe<ClusterRun> {
  return { command: (ctx) => ctrVersion(o(ctx)) };
}

const waitOptions = (o: CtrOptions) => ({
  unit: CONTAINERD_UNIT,
  what: '`ctr version` to answer',
  failure: `containerd does not answer on ${o.socket}`,
  ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}),
});

/** Waits (bounded) for `ctr version` to answer; throws with containerd's diagnostics when it does not. */
export function waitForContainerd(host: RemoteHost, o: CtrOptions, ctx?: Pick<ClusterTaskContext, 'cache'>): Promise<void> {
  return waitForProbe(host, ctrVersion(o), waitOptions(o), ctx);
}

/** A task that changes nothing and fails unless containerd answers (in a plan: reports that it would wait). */
export function containerdAnswersTask(o: CtrOptions): ClusterTask {
  return healthGate({ name: 'containerd answers (ctr version)', healthy: ctrHealth(() => o), ...waitOptions(o), what: 'containerd to answer `ctr version`' });
}
