/**
 * The kubelet's effective settings: the KubeletConfiguration file (--config, v1beta1 defaults and
 * validation), overridden by flags given on the command line as v1.13 does, or the legacy flag
 * defaults without --config. Every file it names is checked here.
 */
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseCidr } from '../common/cidr.js';
import { loadComponentConfig } from '../common/componentconfig.js';
import { parseGoDuration } from '../common/duration.js';
import { configError } from '../common/errors.js';
import type { Flags } from '../common/flags.js';
import { loadCertificates, loadKeyPair, readFileFor, requireDirectory, type KeyPair } from '../common/files.js';

const duration = z.string().refine((s) => typeof parseGoDuration(s) === 'number', { message: 'invalid duration (Go syntax, e.g. 10s)' });
const int = z.number().int();

export const kubeletConfigurationSchema = z.looseObject({
  kind: z.literal('KubeletConfiguration'),
  apiVersion: z.literal('kubelet.config.k8s.io/v1beta1'),
  staticPodPath: z.string().optional(),
  syncFrequency: duration.optional(),
  fileCheckFrequency: duration.optional(),
  httpCheckFrequency: duration.optional(),
  address: z.string().optional(),
  port: int.optional(),
  readOnlyPort: int.optional(),
  tlsCertFile: z.string().optional(),
  tlsPrivateKeyFile: z.string().optional(),
  tlsCipherSuites: z.array(z.string()).optional(),
  tlsMinVersion: z.string().optional(),
  rotateCertificates: z.boolean().optional(),
  serverTLSBootstrap: z.boolean().optional(),
  authentication: z
    .looseObject({
      x509: z.looseObject({ clientCAFile: z.string().optional() }).optional(),
      webhook: z.looseObject({ enabled: z.boolean().optional(), cacheTTL: duration.optional() }).optional(),
      anonymous: z.looseObject({ enabled: z.boolean().optional() }).optional(),
    })
    .optional(),
  authorization: z
    .looseObject({
      mode: z.enum(['AlwaysAllow', 'Webhook']).optional(),
      webhook: z.looseObject({ cacheAuthorizedTTL: duration.optional(), cacheUnauthorizedTTL: duration.optional() }).optional(),
    })
    .optional(),
  registryPullQPS: int.optional(),
  registryBurst: int.optional(),
  eventRecordQPS: int.optional(),
  eventBurst: int.optional(),
  healthzPort: int.optional(),
  healthzBindAddress: z.string().optional(),
  oomScoreAdj: int.optional(),
  clusterDomain: z.string().optional(),
  clusterDNS: z.array(z.string()).optional(),
  streamingConnectionIdleTimeout: duration.optional(),
  nodeStatusUpdateFrequency: duration.optional(),
  nodeStatusReportFrequency: duration.optional(),
  nodeLeaseDurationSeconds: int.optional(),
  imageMinimumGCAge: duration.optional(),
  imageGCHighThresholdPercent: int.optional(),
  imageGCLowThresholdPercent: int.optional(),
  volumeStatsAggPeriod: duration.optional(),
  cgroupDriver: z.enum(['cgroupfs', 'systemd']).optional(),
  cgroupsPerQOS: z.boolean().optional(),
  cpuManagerPolicy: z.enum(['none', 'static']).optional(),
  runtimeRequestTimeout: duration.optional(),
  hairpinMode: z.enum(['promiscuous-bridge', 'hairpin-veth', 'none']).optional(),
  maxPods: int.optional(),
  podCIDR: z.string().optional(),
  podPidsLimit: int.optional(),
  resolvConf: z.string().optional(),
  cpuCFSQuota: z.boolean().optional(),
  maxOpenFiles: int.optional(),
  kubeAPIQPS: int.optional(),
  kubeAPIBurst: int.optional(),
  serializeImagePulls: z.boolean().optional(),
  evictionHard: z.record(z.string(), z.string()).optional(),
  evictionSoft: z.record(z.string(), z.string()).optional(),
  podsPerCore: int.optional(),
  enableControllerAttachDetach: z.boolean().optional(),
  protectKernelDefaults: z.boolean().optional(),
  makeIPTablesUtilChains: z.boolean().optional(),
  iptablesMasqueradeBit: int.optional(),
  iptablesDropBit: int.optional(),
  featureGates: z.record(z.string(), z.boolean()).optional(),
  failSwapOn: z.boolean().optional(),
  containerLogMaxSize: z.string().optional(),
  containerLogMaxFiles: int.optional(),
  systemReserved: z.record(z.string(), z.string()).optional(),
  kubeReserved: z.record(z.string(), z.string()).optional(),
  enforceNodeAllocatable: z.array(z.string()).optional(),
});
export type KubeletConfiguration = z.infer<typeof kubeletConfigurationSchema>;

export type RuntimeEndpoint = { kind: 'remote'; socket: string; display: string } | { kind: 'docker'; socket: string; display: string };

export interface KubeletSettings {
  nodeName: string;
  nodeIP?: string;
  kubeconfig?: string;
  master?: string;
  registerNode: boolean;
  nodeLabels: Record<string, string>;
  taints: Array<{ key: string; value?: string; effect: string }>;
  healthzBindAddress: string;
  healthzPort: number;
  address: string;
  port: number;
  serving?: KeyPair;
  clientCA?: Buffer;
  anonymousAuth: boolean;
  webhookAuthn: boolean;
  authorizationMode: 'AlwaysAllow' | 'Webhook';
  staticPodPath?: string;
  resolvConf: string;
  failSwapOn: boolean;
  podCIDR?: string;
  maxPods: number;
  nodeStatusUpdateMs: number;
  /** How often static pod manifests are re-read (fileCheckFrequency, v1.13 default 20 s). */
  fileCheckMs: number;
  clusterDNS: string[];
  clusterDomain: string;
  cgroupDriver: 'cgroupfs' | 'systemd';
  cgroupsPerQOS: boolean;
  runtime: RuntimeEndpoint;
  cniConfDir: string;
  cniBinDirs: string[];
  networkPlugin: string;
  /** --root-dir (default /var/lib/kubelet): pod volumes live under <rootDir>/pods/<uid>/volumes. */
  rootDir: string;
}

function socketOf(flag: string, endpoint: string): string {
  if (endpoint.startsWith('unix://')) return endpoint.slice('unix://'.length);
  if (endpoint.startsWith('/')) return endpoint;
  const scheme = endpoint.includes('://') ? endpoint.split('://')[0] : '';
  throw configError(`--${flag}=${endpoint}: protocol "${scheme}" not supported`);
}

function validatePort(name: string, flag: string, port: number, allowZero: boolean): void {
  if (port < (allowZero ? 0 : 1) || port > 65535) {
    throw configError(`failed to validate kubelet configuration: invalid configuration: ${name} (--${flag}) ${port} must be between ${allowZero ? 0 : 1} and 65535, inclusive`);
  }
}

/** `key=value,key2=value2` as --node-labels takes it. */
function parseLabels(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw configError(`invalid argument "${item}" for "--node-labels" flag: ${item} must be formatted as key=value`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** `key=value:Effect` as --register-with-taints takes it. */
function parseTaints(items: string[]) {
  return items.map((t) => {
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(t);
    if (!m) throw configError(`invalid argument "${t}" for "--register-with-taints" flag: invalid taint spec: ${t}`);
    return { key: m[1]!, ...(m[2] !== undefined ? { value: m[2] } : {}), effect: m[3]! };
  });
}

export function loadKubeletSettings(flags: Flags): KubeletSettings {
  const configPath = flags.string('config');
  const cfg: Partial<KubeletConfiguration> = configPath === '' ? {} : loadComponentConfig('--config', configPath, { kind: 'KubeletConfiguration', apiVersion: 'kubelet.config.k8s.io/v1beta1' }, kubeletConfigurationSchema);
  const withConfig = configPath !== '';
  // A flag given on the command line wins over the file (v1.13 flag precedence).
  const pickS = (flag: string, fromFile: string | undefined, legacy: string) => (flags.has(flag) ? flags.string(flag) : fromFile ?? (withConfig ? undefined : legacy));
  const pickN = (flag: string, fromFile: number | undefined, dflt: number) => (flags.has(flag) ? flags.int(flag, dflt) : fromFile ?? dflt);
  const pickB = (flag: string, fromFile: boolean | undefined, dflt: boolean) => (flags.has(flag) ? flags.bool(flag, dflt) : fromFile ?? dflt);

  const healthzPort = pickN('healthz-port', cfg.healthzPort, 10248);
  validatePort('HealthzPort', 'healthz-port', healthzPort, true);
  const port = pickN('port', cfg.port, 10250);
  validatePort('Port', 'port', port, false);
  const readOnlyPort = pickN('read-only-port', cfg.readOnlyPort, withConfig ? 0 : 10255);
  validatePort('ReadOnlyPort', 'read-only-port', readOnlyPort, true);
  const high = pickN('image-gc-high-threshold', cfg.imageGCHighThresholdPercent, 85);
  const low = pickN('image-gc-low-threshold', cfg.imageGCLowThresholdPercent, 80);
  for (const [name, flag, v] of [['ImageGCHighThresholdPercent', 'image-gc-high-threshold', high], ['ImageGCLowThresholdPercent', 'image-gc-low-threshold', low]] as const) {
    if (v < 0 || v > 100) throw configError(`failed to validate kubelet configuration: invalid configuration: ${name} (--${flag}) ${v} must be between 0 and 100, inclusive`);
  }
  if (low >= high) throw configError(`failed to validate kubelet configuration: invalid configuration: ImageGCLowThresholdPercent (--image-gc-low-threshold) ${low} must be less than ImageGCHighThresholdPercent (--image-gc-high-threshold) ${high}`);
  const maxPods = pickN('max-pods', cfg.maxPods, 110);
  if (maxPods < 0) throw configError(`failed to validate kubelet configuration: invalid configuration: MaxPods (--max-pods) ${maxPods} must not be a negative number`);
  const clusterDNS = flags.has('cluster-dns') ? flags.list('cluster-dns') : cfg.clusterDNS ?? [];
  for (const ip of clusterDNS) {
    if (isIP(ip) === 0) throw configError(`failed to validate kubelet configuration: invalid configuration: clusterDNS ${ip} is not a valid IP address`);
  }
  const podCIDR = pickS('pod-cidr', cfg.podCIDR, '') || undefined;
  if (podCIDR && !parseCidr(podCIDR)) throw configError(`failed to validate kubelet configuration: invalid configuration: podCIDR ${podCIDR} is not a valid CIDR`);
  const nodeStatusUpdateMs = flags.has('node-status-update-frequency')
    ? flags.durationMs('node-status-update-frequency', 10_000)
    : (() => {
        const v = cfg.nodeStatusUpdateFrequency ? parseGoDuration(cfg.nodeStatusUpdateFrequency) : 10_000;
        return typeof v === 'number' && v > 0 ? v : 10_000;
      })();
  const fileCheckMs = flags.has('file-check-frequency')
    ? flags.durationMs('file-check-frequency', 20_000)
    : (() => {
        const v = cfg.fileCheckFrequency ? parseGoDuration(cfg.fileCheckFrequency) : 20_000;
        return typeof v === 'number' && v > 0 ? v : 20_000;
      })();
  const cgroupDriver = pickS('cgroup-driver', cfg.cgroupDriver, 'cgroupfs') ?? 'cgroupfs';
  if (cgroupDriver !== 'cgroupfs' && cgroupDriver !== 'systemd') throw configError(`failed to run Kubelet: invalid cgroup driver "${cgroupDriver}"`);

  // Serving and client authentication.
  const certFile = pickS('tls-cert-file', cfg.tlsCertFile, '') ?? '';
  const keyFile = pickS('tls-private-key-file', cfg.tlsPrivateKeyFile, '') ?? '';
  const certOrigin = flags.has('tls-cert-file') || !withConfig ? '--tls-cert-file' : `--config=${configPath}: tlsCertFile`;
  const keyOrigin = flags.has('tls-private-key-file') || !withConfig ? '--tls-private-key-file' : `--config=${configPath}: tlsPrivateKeyFile`;
  if ((certFile === '') !== (keyFile === '')) throw configError(`${certFile === '' ? certOrigin : keyOrigin} must be set together with ${certFile === '' ? keyOrigin : certOrigin}`);
  const serving = certFile !== '' ? loadKeyPair(certOrigin, certFile, keyOrigin, keyFile) : undefined;
  const caFile = pickS('client-ca-file', cfg.authentication?.x509?.clientCAFile, '') ?? '';
  const caOrigin = flags.has('client-ca-file') || !withConfig ? '--client-ca-file' : `--config=${configPath}: authentication.x509.clientCAFile`;
  let clientCA: Buffer | undefined;
  if (caFile !== '') {
    loadCertificates(caOrigin, caFile);
    clientCA = readFileFor(caOrigin, caFile);
  }
  const anonymousAuth = pickB('anonymous-auth', cfg.authentication?.anonymous?.enabled, !withConfig);
  const webhookAuthn = pickB('authentication-token-webhook', cfg.authentication?.webhook?.enabled, withConfig);
  const modeText = pickS('authorization-mode', cfg.authorization?.mode, 'AlwaysAllow') ?? 'Webhook';
  if (modeText !== 'AlwaysAllow' && modeText !== 'Webhook') throw configError(`invalid authorization mode "${modeText}": must be AlwaysAllow or Webhook`);

  const kubeconfig = flags.string('kubeconfig') || undefined;
  if (kubeconfig === undefined && webhookAuthn) throw configError('no client provided, cannot use webhook authentication');
  if (kubeconfig === undefined && modeText === 'Webhook') throw configError('no client provided, cannot use webhook authorization');
  if (flags.string('bootstrap-kubeconfig') !== '') readFileFor('--bootstrap-kubeconfig', flags.string('bootstrap-kubeconfig'));

  const staticPodPath = pickS('pod-manifest-path', cfg.staticPodPath, '') || undefined;
  if (staticPodPath) requireDirectory(flags.has('pod-manifest-path') || !withConfig ? '--pod-manifest-path' : `--config=${configPath}: staticPodPath`, staticPodPath);
  // A missing resolv.conf is only an event on a real kubelet, so main() merely warns about it.
  const resolvConf = pickS('resolv-conf', cfg.resolvConf, '/etc/resolv.conf') ?? '/etc/resolv.conf';
  if (flags.string('cloud-config') !== '') readFileFor('--cloud-config', flags.string('cloud-config'));

  // Container runtime and network.
  const runtimeKind = flags.string('container-runtime', 'docker');
  if (runtimeKind !== 'docker' && runtimeKind !== 'remote') throw configError(`failed to run Kubelet: unsupported container runtime "${runtimeKind}" specified`);
  const runtime: RuntimeEndpoint =
    runtimeKind === 'remote'
      ? (() => {
          const ep = flags.string('container-runtime-endpoint', 'unix:///var/run/dockershim.sock');
          return { kind: 'remote' as const, socket: socketOf('container-runtime-endpoint', ep), display: ep };
        })()
      : (() => {
          const ep = flags.string('docker-endpoint', 'unix:///var/run/docker.sock');
          return { kind: 'docker' as const, socket: socketOf('docker-endpoint', ep), display: ep };
        })();
  const networkPlugin = flags.string('network-plugin', '');
  if (!['', 'cni', 'kubenet'].includes(networkPlugin)) throw configError(`failed to run Kubelet: network plugin "${networkPlugin}" not found`);

  const nodeIP = flags.string('node-ip') || undefined;
  if (nodeIP && isIP(nodeIP) === 0) throw configError(`failed to run Kubelet: --node-ip "${nodeIP}" is not a valid IP address`);
  const nodeName = (flags.string('hostname-override') || hostname()).trim().toLowerCase();

  return {
    nodeName,
    ...(nodeIP ? { nodeIP } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(flags.string('master') ? { master: flags.string('master') } : {}),
    registerNode: flags.bool('register-node', true),
    nodeLabels: parseLabels(flags.list('node-labels')),
    taints: parseTaints(flags.list('register-with-taints')),
    healthzBindAddress: pickS('healthz-bind-address', cfg.healthzBindAddress, '127.0.0.1') ?? '127.0.0.1',
    healthzPort,
    address: pickS('address', cfg.address, '0.0.0.0') ?? '0.0.0.0',
    port,
    ...(serving ? { serving } : {}),
    ...(clientCA ? { clientCA } : {}),
    anonymousAuth,
    webhookAuthn,
    authorizationMode: modeText,
    ...(staticPodPath ? { staticPodPath } : {}),
    resolvConf,
    failSwapOn: pickB('fail-swap-on', flags.has('experimental-fail-swap-on') ? flags.bool('experimental-fail-swap-on', true) : cfg.failSwapOn, true),
    ...(podCIDR ? { podCIDR } : {}),
    maxPods,
    nodeStatusUpdateMs,
    fileCheckMs,
    clusterDNS,
    clusterDomain: pickS('cluster-domain', cfg.clusterDomain, '') ?? '',
    cgroupDriver,
    cgroupsPerQOS: pickB('cgroups-per-qos', cfg.cgroupsPerQOS, true),
    runtime,
    cniConfDir: flags.string('cni-conf-dir', '/etc/cni/net.d'),
    cniBinDirs: flags.list('cni-bin-dir', ['/opt/cni/bin']),
    networkPlugin,
    rootDir: flags.string('root-dir', '/var/lib/kubelet'),
  };
}
