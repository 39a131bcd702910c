/**
 * Readiness of the control plane, probed on its own host with the kubectl kprov installs there and
 * admin.conf (CA-verified HTTPS to 127.0.0.1): the API server's /healthz, and the controller
 * manager's and scheduler's healthz as the local API server sees them (componentstatuses probes
 * 127.0.0.1:10252 and :10251), so no curl is needed on the host.
 */
import { z } from 'zod';
import type { HealthProbe } from '../../engine/tasks/index.js';
import type { ExecResult } from '../../ssh/types.js';
import type { ClusterRun, ClusterTaskContext } from '../../cluster/run.js';

export interface Kubectl {
  bin: string;
  kubeconfig: string;
}

function kubectlArgv(k: Kubectl, path: string): string[] {
  return [k.bin, `--kubeconfig=${k.kubeconfig}`, '--request-timeout=5s', 'get', `--raw=${path}`];
}

/** The API server answers `ok` on /healthz. */
export function apiserverHealth(kubectl: (ctx: ClusterTaskContext) => Promise<Kubectl>): HealthProbe<ClusterRun> {
  return {
    command: async (ctx) => ({ argv: kubectlArgv(await kubectl(ctx), '/healthz'), timeoutMs: 15_000 }),
    accept: (r) => r.stdout.trim() === 'ok',
  };
}

const componentStatusSchema = z.object({
  conditions: z.array(z.object({ type: z.string(), status: z.string() })).default([]),
});

function reportsHealthy(r: ExecResult): boolean {
  try {
    const status = componentStatusSchema.parse(JSON.parse(r.stdout));
    return status.conditions.some((c) => c.type === 'Healthy' && c.status === 'True');
  } catch {
    return false;
  }
}

/** `controller-manager` or `scheduler`, as componentstatuses names them, reported Healthy by the local API server. */
export function componentHealth(kubectl: (ctx: ClusterTaskContext) => Promise<Kubectl>, component: 'controller-manager' | 'scheduler'): HealthProbe<ClusterRun> {
  return {
    command: async (ctx) => ({ argv: kubectlArgv(await kubectl(ctx), `/api/v1/componentstatuses/${component}`), timeoutMs: 30_000 }),
    accept: reportsHealthy,
  };
}
