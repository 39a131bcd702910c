/**
 * What kube-controller-manager and kube-scheduler share: a kubeconfig that must work, the insecure
 * healthz port componentstatuses probes, and leader election whose loss ends the process (as
 * `leaderelection lost` does in v1.13).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ApiClient } from './client.js';
import { configError } from './errors.js';
import type { Flags } from './flags.js';
import type { Logger } from './klog.js';
import { loadKubeconfig } from './kubeconfig.js';
import { LeaderElector } from './leaderelection.js';
import type { RunContext, Running } from './run.js';
import { closeServer, joinHostPort, listen } from './serve.js';

export const API_WAIT_MS = 60_000;

export interface LeaderElectionSettings {
  leaderElect: boolean;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  resourceLock: string;
  namespace: string;
  name: string;
}

/** The --leader-elect* flags both components take, with v1.13's defaults. */
export function electionFromFlags(flags: Flags, lock: { namespace: string; name: string }): LeaderElectionSettings {
  return {
    leaderElect: flags.bool('leader-elect', true),
    leaseDurationMs: flags.durationMs('leader-elect-lease-duration', 15_000),
    renewDeadlineMs: flags.durationMs('leader-elect-renew-deadline', 10_000),
    retryPeriodMs: flags.durationMs('leader-elect-retry-period', 2_000),
    resourceLock: flags.string('leader-elect-resource-lock', 'endpoints'),
    namespace: lock.namespace,
    name: lock.name,
  };
}

export interface ControlPlaneSettings {
  kubeconfigOrigin: string;
  kubeconfig: string;
  master?: string;
  healthzAddress: string;
  /** 0: no insecure healthz port. */
  healthzPort: number;
  election: LeaderElectionSettings;
}

/** Controllers run while leading; `stop` is called on shutdown. */
export interface Controllers {
  start(client: ApiClient, log: Logger): void;
  stop(): void;
}

export function validateElection(e: LeaderElectionSettings): void {
  if (!e.leaderElect) return;
  if (e.leaseDurationMs <= e.renewDeadlineMs) throw configError('leaseDuration must be greater than renewDeadline');
  if (e.renewDeadlineMs <= e.retryPeriodMs * 1.2) throw configError('renewDeadline must be greater than retryPeriod*JitterFactor');
  if (e.leaseDurationMs < 1) throw configError('leaseDuration must be greater than zero');
  if (e.resourceLock !== 'endpoints' && e.resourceLock !== 'configmaps') {
    throw configError(`Lock type ${e.resourceLock} not recognized (v1.13 supports endpoints and configmaps)`);
  }
}

export async function runControlPlane(settings: ControlPlaneSettings, controllers: Controllers, ctx: RunContext): Promise<Running> {
  const { log } = ctx;
  validateElection(settings.election);
  if (settings.kubeconfig === '' && !settings.master) throw configError('invalid configuration: no configuration has been provided');
  if (settings.kubeconfig === '') throw configError('--master without --kubeconfig: the stand-in needs a kubeconfig for credentials');
  const client = new ApiClient(loadKubeconfig(settings.kubeconfigOrigin, settings.kubeconfig, settings.master));

  let healthz: http.Server | undefined;
  if (settings.healthzPort !== 0) {
    healthz = http.createServer((req, res) => {
      const ok = req.url === '/healthz' || req.url === '/healthz/' || req.url?.startsWith('/healthz?') === true;
      res.writeHead(ok ? 200 : 404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(ok ? 'ok' : '404 page not found\n');
    });
    await listen(healthz, settings.healthzAddress, settings.healthzPort);
    log.info(`Serving insecurely on ${joinHostPort(settings.healthzAddress || '0.0.0.0', settings.healthzPort)}`);
  }
  try {
    await client.verify(API_WAIT_MS, (why) => log.warning(`waiting for the API server: ${why}`));
  } catch (err) {
    if (healthz) await closeServer(healthz);
    throw err;
  }

  let elector: LeaderElector | undefined;
  if (settings.election.leaderElect) {
    const e = settings.election;
    elector = new LeaderElector({
      client,
      resource: e.resourceLock as 'endpoints' | 'configmaps',
      namespace: e.namespace,
      name: e.name,
      identity: `${hostname()}_${randomUUID()}`,
      leaseDurationMs: e.leaseDurationMs,
      renewDeadlineMs: e.renewDeadlineMs,
      retryPeriodMs: e.retryPeriodMs,
      log,
      onStartedLeading: () => controllers.start(client, log),
      onStoppedLeading: () => ctx.fatal('leaderelection lost'),
    });
    elector.start();
  } else {
    controllers.start(client, log);
  }
  return {
    async stop() {
      elector?.stop();
      controllers.stop();
      if (healthz) await closeServer(healthz);
      client.close();
    },
  };
}
