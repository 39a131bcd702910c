/**
 * kube-scheduler v1.13 stand-in: flags or a KubeSchedulerConfiguration
 * (kubescheduler.config.k8s.io/v1alpha1) with clientConnection.kubeconfig and leaderElection,
 * healthz on 10251, leader election through the kube-system/kube-scheduler Endpoints; while
 * leading it binds pending pods to nodes (schedule.ts).
 */
import { z } from 'zod';
import { loadComponentConfig } from '../common/componentconfig.js';
import { electionFromFlags, runControlPlane, type ControlPlaneSettings } from '../common/controlplane.js';
import { parseGoDuration } from '../common/duration.js';
import { configError } from '../common/errors.js';
import type { Flags } from '../common/flags.js';
import { loadCertificates, loadKeyPair, readFileFor } from '../common/files.js';
import { loadKubeconfig } from '../common/kubeconfig.js';
import { runComponent, type Component } from '../common/run.js';
import { splitHostPort } from '../common/serve.js';
import { startScheduling } from './schedule.js';

const duration = z.string().refine((s) => typeof parseGoDuration(s) === 'number', { message: 'invalid duration (Go syntax, e.g. 15s)' });

const schedulerConfigSchema = z.looseObject({
  kind: z.literal('KubeSchedulerConfiguration'),
  apiVersion: z.literal('kubescheduler.config.k8s.io/v1alpha1'),
  schedulerName: z.string().optional(),
  hardPodAffinitySymmetricWeight: z.number().int().min(0).max(100).optional(),
  clientConnection: z.looseObject({ kubeconfig: z.string().optional(), qps: z.number().optional(), burst: z.number().int().optional() }).optional(),
  leaderElection: z
    .looseObject({
      leaderElect: z.boolean().optional(),
      leaseDuration: duration.optional(),
      renewDeadline: duration.optional(),
      retryPeriod: duration.optional(),
      resourceLock: z.string().optional(),
      lockObjectNamespace: z.string().optional(),
      lockObjectName: z.string().optional(),
    })
    .optional(),
  healthzBindAddress: z.string().optional(),
  metricsBindAddress: z.string().optional(),
  disablePreemption: z.boolean().optional(),
  percentageOfNodesToScore: z.number().int().min(0).max(100).optional(),
  bindTimeoutSeconds: z.number().int().optional(),
});

function checkFiles(flags: Flags): void {
  for (const f of ['client-ca-file', 'requestheader-client-ca-file']) if (flags.string(f) !== '') loadCertificates(`--${f}`, flags.string(f));
  if ((flags.string('tls-cert-file') === '') !== (flags.string('tls-private-key-file') === '')) throw configError('--tls-cert-file and --tls-private-key-file must be specified together');
  if (flags.string('tls-cert-file') !== '') loadKeyPair('--tls-cert-file', flags.string('tls-cert-file'), '--tls-private-key-file', flags.string('tls-private-key-file'));
  for (const f of ['authentication-kubeconfig', 'authorization-kubeconfig']) if (flags.string(f) !== '') loadKubeconfig(`--${f}`, flags.string(f));
  if (flags.string('policy-config-file') !== '') readFileFor('--policy-config-file', flags.string('policy-config-file'));
}

const ms = (text: string | undefined, fallback: number) => {
  const v = text === undefined ? fallback : parseGoDuration(text);
  return typeof v === 'number' ? v : fallback;
};

function settingsFrom(flags: Flags): ControlPlaneSettings & { schedulerName: string } {
  const healthzAddress = flags.string('address', '0.0.0.0');
  const healthzPort = flags.int('port', 10251);
  const configPath = flags.string('config');
  if (configPath === '') {
    return {
      schedulerName: flags.string('scheduler-name', 'default-scheduler'),
      kubeconfigOrigin: '--kubeconfig',
      kubeconfig: flags.string('kubeconfig'),
      ...(flags.string('master') ? { master: flags.string('master') } : {}),
      healthzAddress,
      healthzPort,
      election: electionFromFlags(flags, {
        namespace: flags.string('lock-object-namespace', 'kube-system'),
        name: flags.string('lock-object-name', 'kube-scheduler'),
      }),
    };
  }
  // With --config the file decides; --address/--port still override its healthz address (v1.13).
  const cfg = loadComponentConfig('--config', configPath, { kind: 'KubeSchedulerConfiguration', apiVersion: 'kubescheduler.config.k8s.io/v1alpha1' }, schedulerConfigSchema);
  const bind = cfg.healthzBindAddress === undefined ? { host: '0.0.0.0', port: 10251 } : splitHostPort(cfg.healthzBindAddress);
  if (!bind) throw configError(`--config=${configPath}: healthzBindAddress "${cfg.healthzBindAddress ?? ''}" must be host:port`);
  const le = cfg.leaderElection ?? {};
  return {
    schedulerName: cfg.schedulerName ?? 'default-scheduler',
    kubeconfigOrigin: `--config=${configPath}: clientConnection.kubeconfig`,
    kubeconfig: cfg.clientConnection?.kubeconfig ?? '',
    ...(flags.string('master') ? { master: flags.string('master') } : {}),
    healthzAddress: flags.has('address') ? healthzAddress : bind.host,
    healthzPort: flags.has('port') ? healthzPort : bind.port,
    election: {
      leaderElect: le.leaderElect ?? true,
      leaseDurationMs: ms(le.leaseDuration, 15_000),
      renewDeadlineMs: ms(le.renewDeadline, 10_000),
      retryPeriodMs: ms(le.retryPeriod, 2_000),
      resourceLock: le.resourceLock ?? 'endpoints',
      namespace: le.lockObjectNamespace ?? 'kube-system',
      name: le.lockObjectName ?? 'kube-scheduler',
    },
  };
}

const scheduler: Component = {
  name: 'kube-scheduler',
  source: 'server.go',
  async start(flags, ctx) {
    checkFiles(flags);
    const settings = settingsFrom(flags);
    let loop: { stop(): void } | undefined;
    return runControlPlane(
      settings,
      {
        start: (client, log) => {
          loop?.stop();
          loop = startScheduling(client, log, settings.schedulerName);
        },
        stop: () => loop?.stop(),
      },
      ctx,
    );
  },
};

runComponent(scheduler);
