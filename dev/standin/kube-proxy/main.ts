/**
 * kube-proxy v1.13 stand-in: a KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) or flags,
 * validated as v1.13 validates them; connects with its kubeconfig, follows Services and Endpoints
 * with watches and writes v1.13's iptables rules (rules.ts, proxier.ts); healthz on 10256 (stale
 * after two sync periods without a successful sync) and /proxyMode on the metrics address. ipvs
 * falls back to iptables when the kernel lacks ip_vs, as v1.13 does.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ApiClient } from '../common/client.js';
import { parseCidr } from '../common/cidr.js';
import { loadComponentConfig } from '../common/componentconfig.js';
import { API_WAIT_MS } from '../common/controlplane.js';
import { parseGoDuration } from '../common/duration.js';
import { configError } from '../common/errors.js';
import type { Flags } from '../common/flags.js';
import { loadKubeconfig } from '../common/kubeconfig.js';
import { runComponent, type Component } from '../common/run.js';
import { closeServer, joinHostPort, listen, splitHostPort } from '../common/serve.js';
import { IptablesProxier } from './proxier.js';

const duration = z.string().refine((s) => typeof parseGoDuration(s) === 'number', { message: 'invalid duration (Go syntax, e.g. 30s)' });

const proxyConfigSchema = z.looseObject({
  kind: z.literal('KubeProxyConfiguration'),
  apiVersion: z.literal('kubeproxy.config.k8s.io/v1alpha1'),
  bindAddress: z.string().optional(),
  healthzBindAddress: z.string().optional(),
  metricsBindAddress: z.string().optional(),
  enableProfiling: z.boolean().optional(),
  clusterCIDR: z.string().optional(),
  hostnameOverride: z.string().optional(),
  clientConnection: z
    .looseObject({ kubeconfig: z.string().optional(), acceptContentTypes: z.string().optional(), contentType: z.string().optional(), qps: z.number().optional(), burst: z.number().int().optional() })
    .optional(),
  iptables: z
    .looseObject({ masqueradeBit: z.number().int().nullish(), masqueradeAll: z.boolean().optional(), syncPeriod: duration.optional(), minSyncPeriod: duration.optional() })
    .optional(),
  ipvs: z
    .looseObject({ syncPeriod: duration.optional(), minSyncPeriod: duration.optional(), scheduler: z.string().optional(), excludeCIDRs: z.array(z.string()).nullish() })
    .optional(),
  oomScoreAdj: z.number().int().nullish(),
  mode: z.string().optional(),
  portRange: z.string().optional(),
  resourceContainer: z.string().optional(),
  udpIdleTimeout: duration.optional(),
  conntrack: z.looseObject({ max: z.number().int().nullish(), maxPerCore: z.number().int().nullish(), min: z.number().int().nullish() }).optional(),
  configSyncPeriod: duration.optional(),
  nodePortAddresses: z.array(z.string()).nullish(),
  featureGates: z.record(z.string(), z.boolean()).optional(),
});

interface ProxySettings {
  kubeconfigOrigin: string;
  kubeconfig: string;
  master?: string;
  mode: string;
  clusterCIDR: string;
  healthz?: { host: string; port: number };
  metrics?: { host: string; port: number };
  syncPeriodMs: number;
  minSyncPeriodMs: number;
  masqueradeBit: number;
  masqueradeAll: boolean;
}

function checkMasqueradeBit(origin: string, bit: number): number {
  if (bit < 0 || bit > 31) throw configError(`${origin}KubeProxyConfiguration.IPTablesConfiguration.MasqueradeBit: Invalid value: ${bit}: must be within the range [0, 31]`);
  return bit;
}

const ipvsSchedulers = new Set(['', 'rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sh', 'dh', 'sed', 'nq']);

function hostPort(origin: string, field: string, value: string): { host: string; port: number } | undefined {
  const hp = splitHostPort(value);
  if (!hp || (hp.host !== '' && isIP(hp.host) === 0)) throw configError(`${origin}: KubeProxyConfiguration.${field}: Invalid value: "${value}": must be IP:port`);
  return hp.port === 0 ? undefined : hp;
}

function fromConfig(flags: Flags, path: string): ProxySettings {
  const origin = `--config=${path}`;
  const cfg = loadComponentConfig('--config', path, { kind: 'KubeProxyConfiguration', apiVersion: 'kubeproxy.config.k8s.io/v1alpha1' }, proxyConfigSchema);
  const mode = cfg.mode ?? '';
  if (!['', 'iptables', 'ipvs', 'userspace'].includes(mode)) throw configError(`${origin}: KubeProxyConfiguration.mode: Invalid value: "${mode}": must be userspace,iptables,ipvs`);
  const sync = cfg.iptables?.syncPeriod ? parseGoDuration(cfg.iptables.syncPeriod) : 30_000;
  if (typeof sync !== 'number' || sync <= 0) throw configError(`${origin}: KubeProxyConfiguration.IPTablesConfiguration.SyncPeriod: Invalid value: "${cfg.iptables?.syncPeriod ?? ''}": must be greater than 0`);
  if (mode === 'ipvs') {
    const ipvsSync = cfg.ipvs?.syncPeriod ? parseGoDuration(cfg.ipvs.syncPeriod) : 30_000;
    if (typeof ipvsSync !== 'number' || ipvsSync <= 0) throw configError(`${origin}: KubeProxyConfiguration.IPVSConfiguration.SyncPeriod: Invalid value: "${cfg.ipvs?.syncPeriod ?? ''}": must be greater than 0`);
    if (!ipvsSchedulers.has(cfg.ipvs?.scheduler ?? '')) throw configError(`${origin}: KubeProxyConfiguration.IPVSConfiguration.Scheduler: Invalid value: "${cfg.ipvs?.scheduler ?? ''}": IPVS scheduler is not supported`);
  }
  if (cfg.bindAddress !== undefined && isIP(cfg.bindAddress) === 0) throw configError(`${origin}: KubeProxyConfiguration.BindAddress: Invalid value: "${cfg.bindAddress}": not a valid textual representation of an IP address`);
  if (cfg.clusterCIDR && !parseCidr(cfg.clusterCIDR)) throw configError(`${origin}: KubeProxyConfiguration.ClusterCIDR: Invalid value: "${cfg.clusterCIDR}": must be a valid CIDR block (e.g. 10.100.0.0/16)`);
  if (cfg.oomScoreAdj !== undefined && cfg.oomScoreAdj !== null && (cfg.oomScoreAdj < -1000 || cfg.oomScoreAdj > 1000)) {
    throw configError(`${origin}: KubeProxyConfiguration.OOMScoreAdj: Invalid value: "${cfg.oomScoreAdj}": must be within the range [-1000, 1000]`);
  }
  const minSync = cfg.iptables?.minSyncPeriod ? parseGoDuration(cfg.iptables.minSyncPeriod) : 0;
  if (typeof minSync !== 'number' || minSync < 0) throw configError(`${origin}: KubeProxyConfiguration.IPTablesConfiguration.MinSyncPeriod: Invalid value: "${cfg.iptables?.minSyncPeriod ?? ''}": must be greater than or equal to 0`);
  if (minSync > sync) throw configError(`${origin}: KubeProxyConfiguration.IPTablesConfiguration.SyncPeriod: Invalid value: "${cfg.iptables?.syncPeriod ?? '30s'}": must be greater than or equal to iptables.minSyncPeriod`);
  const kubeconfig = cfg.clientConnection?.kubeconfig ?? '';
  const healthz = hostPort(origin, 'HealthzBindAddress', cfg.healthzBindAddress ?? '0.0.0.0:10256');
  const metrics = hostPort(origin, 'MetricsBindAddress', cfg.metricsBindAddress ?? '127.0.0.1:10249');
  return {
    kubeconfigOrigin: `${origin}: clientConnection.kubeconfig`,
    kubeconfig,
    ...(flags.string('master') ? { master: flags.string('master') } : {}),
    mode: mode === '' ? 'iptables' : mode,
    clusterCIDR: cfg.clusterCIDR ?? '',
    ...(healthz ? { healthz } : {}),
    ...(metrics ? { metrics } : {}),
    syncPeriodMs: sync,
    minSyncPeriodMs: minSync,
    masqueradeBit: checkMasqueradeBit(`${origin}: `, cfg.iptables?.masqueradeBit ?? 14),
    masqueradeAll: cfg.iptables?.masqueradeAll ?? false,
  };
}

function fromFlags(flags: Flags): ProxySettings {
  const mode = flags.string('proxy-mode', '');
  if (!['', 'iptables', 'ipvs', 'userspace'].includes(mode)) throw configError(`KubeProxyConfiguration.mode: Invalid value: "${mode}": must be userspace,iptables,ipvs`);
  const clusterCIDR = flags.string('cluster-cidr', '');
  if (clusterCIDR !== '' && !parseCidr(clusterCIDR)) throw configError(`KubeProxyConfiguration.ClusterCIDR: Invalid value: "${clusterCIDR}": must be a valid CIDR block (e.g. 10.100.0.0/16)`);
  const healthzHost = flags.string('healthz-bind-address', '0.0.0.0');
  const healthzPort = flags.int('healthz-port', 10256);
  const metrics = hostPort('--metrics-bind-address', 'MetricsBindAddress', flags.string('metrics-bind-address', '127.0.0.1:10249'));
  const sync = flags.durationMs('iptables-sync-period', 30_000);
  if (sync <= 0) throw configError('KubeProxyConfiguration.IPTablesConfiguration.SyncPeriod: Invalid value: must be greater than 0');
  return {
    kubeconfigOrigin: '--kubeconfig',
    kubeconfig: flags.string('kubeconfig'),
    ...(flags.string('master') ? { master: flags.string('master') } : {}),
    mode: mode === '' ? 'iptables' : mode,
    clusterCIDR,
    ...(healthzPort !== 0 ? { healthz: { host: healthzHost, port: healthzPort } } : {}),
    ...(metrics ? { metrics } : {}),
    syncPeriodMs: sync,
    minSyncPeriodMs: flags.durationMs('iptables-min-sync-period', 0),
    masqueradeBit: checkMasqueradeBit('', flags.int('iptables-masquerade-bit', 14)),
    masqueradeAll: flags.bool('masquerade-all', false),
  };
}

/** v1.13 checks the kernel for IPVS before using it, and falls back to iptables. */
function ipvsAvailable(): boolean {
  try {
    return /^ip_vs\s/m.test(readFileSync('/proc/modules', 'utf8'));
  } catch {
    return false;
  }
}

const kubeProxy: Component = {
  name: 'kube-proxy',
  source: 'server.go',
  async start(flags, { log }) {
    const configPath = flags.string('config');
    const settings = configPath === '' ? fromFlags(flags) : fromConfig(flags, configPath);
    if (configPath !== '') {
      const ignored = flags.given().filter((f) => !['config', 'master', 'v', 'alsologtostderr', 'logtostderr', 'log-dir', 'log-file', 'vmodule'].includes(f));
      if (ignored.length > 0) log.warning(`flags ignored because --config is set: ${ignored.map((f) => `--${f}`).join(' ')}`);
    }
    if (settings.kubeconfig === '' && !settings.master) throw configError('invalid configuration: no configuration has been provided');
    if (settings.kubeconfig === '') throw configError('--master without a kubeconfig: the stand-in needs a kubeconfig for credentials');
    let mode = settings.mode;
    if (mode === 'ipvs' && !ipvsAvailable()) {
      log.warning("Can't use ipvs proxier, trying iptables proxier: IPVS proxier will not be used because the kernel has no ip_vs module loaded");
      mode = 'iptables';
    }
    log.info(`Using ${mode} Proxier.`);
    if (settings.clusterCIDR === '') log.warning('clusterCIDR not specified, unable to distinguish between internal and external traffic');
    const client = new ApiClient(loadKubeconfig(settings.kubeconfigOrigin, settings.kubeconfig, settings.master));
    await client.verify(API_WAIT_MS, (why) => log.warning(`waiting for the API server: ${why}`));

    let lastUpdated = 0;
    // ipvs without ip_vs has fallen back to iptables above; userspace is not implemented (no rules).
    const proxier =
      mode === 'iptables'
        ? new IptablesProxier({
            client,
            log,
            rules: { masqueradeBit: settings.masqueradeBit, masqueradeAll: settings.masqueradeAll, clusterCIDR: settings.clusterCIDR },
            syncPeriodMs: settings.syncPeriodMs,
            minSyncPeriodMs: settings.minSyncPeriodMs,
            onSynced: (at) => (lastUpdated = at),
          })
        : undefined;
    if (proxier) await proxier.start();
    else log.warning(`the stand-in writes no rules in ${mode} mode`);

    const servers: http.Server[] = [];
    if (settings.healthz) {
      const healthTimeout = 2 * settings.syncPeriodMs;
      const healthz = http.createServer((req, res) => {
        if (req.url !== '/healthz') {
          res.writeHead(404).end('404 page not found\n');
          return;
        }
        const now = Date.now();
        const healthy = lastUpdated !== 0 && now - lastUpdated <= healthTimeout;
        res.writeHead(healthy ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ lastUpdated: lastUpdated === 0 ? '0001-01-01T00:00:00Z' : new Date(lastUpdated).toISOString(), currentTime: new Date(now).toISOString() }));
      });
      await listen(healthz, settings.healthz.host, settings.healthz.port);
      servers.push(healthz);
      log.info(`Starting healthz server on ${joinHostPort(settings.healthz.host, settings.healthz.port)}`);
    }
    if (settings.metrics) {
      const metrics = http.createServer((req, res) => {
        if (req.url === '/proxyMode') res.writeHead(200, { 'Content-Type': 'text/plain' }).end(mode);
        else if (req.url === '/healthz') res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
        else if (req.url === '/metrics') res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`# kube-proxy stand-in\nkubeproxy_sync_proxy_rules_last_timestamp_seconds ${Math.floor(lastUpdated / 1000)}\n`);
        else res.writeHead(404).end('404 page not found\n');
      });
      await listen(metrics, settings.metrics.host, settings.metrics.port);
      servers.push(metrics);
    }
    return {
      async stop() {
        await proxier?.stop();
        await Promise.all(servers.map(closeServer));
        client.close();
      },
    };
  },
};

runComponent(kubeProxy);
