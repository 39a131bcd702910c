/**
 * Readiness of the control plane, probed on its own host with the kubectl kprov installs there and
 * admin.conf (CA-verified HTTPS to 127.0.0.1): the API server's /healthz, and the controller
 * manager's and scheduler's healthz as the local API server sees them (componentstatuses probes
 * 127.0.0.1:10252 and :10251), so no curl is needed on the host.
 */
import { z } from 'zod';
import type { RemoteHost } from '../../ssh/types.js';

export interface Kubectl {
  bin: string;
  kubeconfig: string;
}

function kubectlArgv(k: Kubectl, path: string): string[] {
  return [k.bin, `--kubeconfig=${k.kubeconfig}`, '--request-timeout=5s', 'get', `--raw=${path}`];
}

export async function apiserverHealthy(host: RemoteHost, k: Kubectl): Promise<boolean> {
  const r = await host.exec(kubectlArgv(k, '/healthz'), { timeoutMs: 15_000 });
  return r.code === 0 && r.stdout.trim() === 'ok';
}

const componentStatusSchema = z.object({
  conditions: z.array(z.object({ type: z.string(), status: z.string() })).default([]),
});

/** `controller-manager` or `scheduler`, as componentstatuses names them. */
export async function componentHealthy(host: RemoteHost, k: Kubectl, component: 'controller-manager' | 'scheduler'): Promise<boolean> {
  const r = await host.exec(kubectlArgv(k, `/api/v1/componentstatuses/${component}`), { timeoutMs: 30_000 });
  if (r.code !== 0) return false;
  try {
    const status = componentStatusSchema.parse(JSON.parse(r.stdout));
    return status.conditions.some((c) => c.type === 'Healthy' && c.status === 'True');
  } catch {
    return false;
  }
}
