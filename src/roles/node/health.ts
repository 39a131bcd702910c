/**
 * Health of the node components, probed on the node itself over loopback with curl or wget
 * (preflight makes sure one is there): the kubelet's healthz (10248) and kube-proxy's (10256,
 * which answers 200 only once kube-proxy has synced with the API server). Every wait is bounded
 * and a failure carries the unit's `systemctl status` and last journal lines.
 */
import { healthGate, type HealthProbe } from '../../engine/tasks/index.js';
import { shScript } from '../../ssh/quote.js';
import type { ProbeCommand } from '../../engine/contract.js';
import type { ClusterRun, ClusterTask } from '../../cluster/run.js';

const HTTP_GET = `if command -v curl >/dev/null 2>&1; then exec curl -fsS --max-time 3 -o /dev/null "$1"
elif command -v wget >/dev/null 2>&1; then exec wget -q -T 3 -O /dev/null "$1"
else echo "neither curl nor wget is installed" >&2; exit 127; fi`;

/** GET `http://127.0.0.1:<port><path>` on the host, bounded. */
export function httpGet(port: number, path: string): ProbeCommand {
  return { argv: shScript(HTTP_GET, [`http://127.0.0.1:${port}${path}`], 'kprov-http-get'), timeoutMs: 10_000 };
}

/** Healthy when GET `http://127.0.0.1:<port><path>` answers 2xx. */
export function httpHealth(port: number, path: string): HealthProbe<ClusterRun> {
  return { command: () => httpGet(port, path) };
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

/** A task that changes nothing and fails unless the component is healthy (a plan only looks once). */
export function healthyTask(name: string, check: HealthCheck): ClusterTask {
  const url = `http://127.0.0.1:${check.port}${check.path}`;
  return healthGate({
    name,
    unit: check.unit,
    healthy: httpHealth(check.port, check.path),
    what: `${url} to answer`,
    failure: `${check.unit} is not healthy`,
    timeoutMs: check.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
    intervalMs: check.intervalMs ?? 1_000,
  });
}
