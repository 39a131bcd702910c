/**
 * Health of the node components, probed on the node itself over loopback with curl or wget
 * (preflight makes sure one is there): the kubelet's healthz (10248) and kube-proxy's (10256,
 * which answers 200 only once kube-proxy has synced with the API server). Every wait is bounded
 * and a failure carries the unit's `systemctl status` and last journal lines.
 */
import { HostStepError } from '../../engine/errors.js';
import { unitDiagnostics } from '../../engine/tasks/index.js';
import { waitUntil, WaitTimeoutError } from '../../engine/wait.js';
import { shScript } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { Change, Task } from '../types.js';

const HTTP_GET = `if command -v curl >/dev/null 2>&1; then exec curl -fsS --max-time 3 -o /dev/null "$1"
elif command -v wget >/dev/null 2>&1; then exec wget -q -T 3 -O /dev/null "$1"
else echo "neither curl nor wget is installed" >&2; exit 127; fi`;

/** True when GET `http://127.0.0.1:<port><path>` on the host answers 2xx. */
export async function httpOk(host: RemoteHost, port: number, path: string): Promise<boolean> {
  const r = await host.exec(shScript(HTTP_GET, [`http://127.0.0.1:${port}${path}`], 'kprov-http-get'), { timeoutMs: 10_000 });
  return r.code === 0;
}

export interface HealthCheck {
  /** The unit whose diagnostics explain a failure, e.g. `kubelet.service`. */
  unit: string;
  port: number;
  path: string;
  timeoutMs?: number;
  intervalMs?: number;
}

export const DEFAULT_HEALTH_TIMEOUT_MS = 90_000;

export async function waitHttpHealthy(host: RemoteHost, check: HealthCheck): Promise<void> {
  const url = `http://127.0.0.1:${check.port}${check.path}`;
  try {
    await waitUntil(async () => ((await httpOk(host, check.port, check.path)) ? true : undefined), {
      what: `${url} to answer`,
      timeoutMs: check.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
      intervalMs: check.intervalMs ?? 1_000,
    });
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    throw new HostStepError(host.name, `${check.unit} is not healthy: ${err.message}`, await unitDiagnostics(host, check.unit), `see: journalctl -u ${check.unit}`);
  }
}

/** A task that changes nothing and fails unless the component is healthy (a plan only looks once). */
export function healthyTask(name: string, check: HealthCheck): Task {
  return {
    name,
    async check(host, ctx): Promise<Change[]> {
      if (ctx.dryRun) {
        return (await httpOk(host, check.port, check.path)) ? [] : [{ kind: 'custom', summary: `wait for http://127.0.0.1:${check.port}${check.path} to answer` }];
      }
      await waitHttpHealthy(host, check);
      return [];
    },
    async apply() {
      // check never reports changes outside a plan.
    },
  };
}
