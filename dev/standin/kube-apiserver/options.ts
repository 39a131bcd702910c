/**
 * kube-apiserver's flags checked as v1.13 checks them at start-up, with every named file loaded and
 * verified: serving and client certificates, CA bundles, keys, token files, webhook kubeconfigs,
 * audit and encryption configs. Defaults are v1.13's.
 */
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { configError } from '../common/errors.js';
import type { Flags } from '../common/flags.js';
import {
  loadCertificates,
  loadKeyPair,
  loadPrivateKey,
  loadVerificationKeys,
  readFileFor,
  type KeyPair,
} from '../common/files.js';
import { loadKubeconfig } from '../common/kubeconfig.js';
import type { Logger } from '../common/klog.js';
import { parseCidr } from '../common/cidr.js';
import { parseCsvRows, type AuthnConfig, type StaticUser } from './authn.js';
import type { EtcdTls } from './etcd.js';

/** How the apiserver reaches kubelets (pod logs): its client certificate and the address order. */
export interface KubeletClientOptions {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  preferredAddressTypes: string[];
}

export interface ApiserverOptions {
  kubeletClient: KubeletClientOptions;
  bindAddress: string;
  securePort: number;
  insecureBindAddress: string;
  /** 0: no insecure port. */
  insecurePort: number;
  advertiseAddress: string;
  tls: KeyPair;
  clientCA?: Buffer;
  authn: AuthnConfig;
  authorizationModes: string[];
  admission: ReadonlySet<string>;
  etcdServers: URL[];
  etcdTls: EtcdTls;
  etcdPrefix: string;
  serviceClusterIPRange: string;
  serviceNodePortRange: { base: number; size: number };
}

/** Every admission plugin a v1.13 kube-apiserver knows. */
export const knownAdmissionPlugins = new Set(
  `AlwaysAdmit AlwaysDeny AlwaysPullImages DefaultStorageClass DefaultTolerationSeconds DenyEscalatingExec
  DenyExecOnPrivileged EventRateLimit ExtendedResourceToleration ImagePolicyWebhook Initializers
  LimitPodHardAntiAffinityTopology LimitRanger MutatingAdmissionWebhook NamespaceAutoProvision NamespaceExists
  NamespaceLifecycle NodeRestriction OwnerReferencesPermissionEnforcement PersistentVolumeClaimResize
  PersistentVolumeLabel PodNodeSelector PodPreset PodSecurityPolicy PodTolerationRestriction Priority
  ResourceQuota SecurityContextDeny ServiceAccount StorageObjectInUseProtection TaintNodesByCondition
  ValidatingAdmissionWebhook`.split(/\s+/),
);

/** Enabled when --enable-admission-plugins does not say otherwise (v1.13 defaults). */
const defaultAdmissionPlugins = `NamespaceLifecycle LimitRanger ServiceAccount TaintNodesByCondition Priority
  DefaultTolerationSeconds DefaultStorageClass PersistentVolumeClaimResize MutatingAdmissionWebhook
  ValidatingAdmissionWebhook ResourceQuota`.split(/\s+/);

const authorizationModes = new Set(['AlwaysAllow', 'AlwaysDeny', 'ABAC', 'Webhook', 'RBAC', 'Node']);

function firstHostAddress(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function checkPort(flag: string, port: number, allowZero: boolean): void {
  if (port < (allowZero ? 0 : 1) || port > 65535) {
    throw configError(
      allowZero
        ? `--${flag} ${port} must be between 0 and 65535, inclusive. 0 for turning off insecure (HTTP) port`
        : `--${flag} ${port} must be between 1 and 65535, inclusive. It cannot be turned off with 0`,
    );
  }
}

/** A YAML/JSON file whose kind/apiVersion must be one of `accepted`. */
function checkTypedFile(flag: string, path: string, accepted: Array<[kind: string, apiVersion: string]>): void {
  let raw: unknown;
  try {
    raw = parseYaml(readFileFor(`--${flag}`, path).toString('utf8'));
  } catch (err) {
    if (err instanceof Error && err.name === 'StandinError') throw err;
    throw configError(`--${flag}=${path}: failed to decode: ${(err as Error).message}`);
  }
  const obj = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  if (!accepted.some(([k, v]) => obj.kind === k && obj.apiVersion === v)) {
    throw configError(
      `--${flag}=${path}: no kind "${String(obj.kind ?? '')}" is registered for version "${String(obj.apiVersion ?? '')}" (expected ${accepted.map(([k, v]) => `${k} ${v}`).join(' or ')})`,
    );
  }
}

function loadStaticUsers(flag: string, path: string, withPassword: boolean): Map<string, StaticUser & { password: string }> {
  const out = new Map<string, StaticUser & { password: string }>();
  const rows = parseCsvRows(readFileFor(`--${flag}`, path).toString('utf8'));
  rows.forEach((cells, i) => {
    if (cells.length < 3) throw configError(`--${flag}=${path}: line ${i + 1}: expected at least 3 columns (${withPassword ? 'password' : 'token'},user,uid), got ${cells.length}`);
    const [secret, name, uid, groups] = cells as [string, string, string, string | undefined];
    out.set(withPassword ? name : secret, { name, uid, groups: groups ? groups.split(',').map((g) => g.trim()).filter(Boolean) : [], password: secret });
  });
  return out;
}

export function loadApiserverOptions(flags: Flags, log: Logger): ApiserverOptions {
  // Storage.
  const backend = flags.string('storage-backend', 'etcd3');
  if (backend !== 'etcd3' && backend !== '') throw configError(`--storage-backend invalid, allowed values: etcd3. If not specified, it will default to 'etcd3'`);
  const servers = flags.list('etcd-servers');
  if (servers.length === 0) throw configError('--etcd-servers must be specified');
  const etcdServers = servers.map((s) => {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw configError(`--etcd-servers: "${s}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw configError(`--etcd-servers: unsupported scheme in "${s}"`);
    if (url.port === '') url.port = '2379';
    return url;
  });
  const etcdTls: EtcdTls = {};
  if (flags.string('etcd-cafile') !== '') {
    loadCertificates('--etcd-cafile', flags.string('etcd-cafile'));
    etcdTls.ca = readFileFor('--etcd-cafile', flags.string('etcd-cafile'));
  }
  const etcdCert = flags.string('etcd-certfile');
  const etcdKey = flags.string('etcd-keyfile');
  if ((etcdCert === '') !== (etcdKey === '')) throw configError('--etcd-certfile and --etcd-keyfile must be specified together');
  if (etcdCert !== '') {
    const pair = loadKeyPair('--etcd-certfile', etcdCert, '--etcd-keyfile', etcdKey);
    etcdTls.cert = pair.certPem;
    etcdTls.key = pair.keyPem;
  }
  const etcdPrefix = flags.string('etcd-prefix', '/registry').replace(/\/+$/, '');

  // Serving.
  const bindAddress = flags.string('bind-address', '0.0.0.0');
  if (isIP(bindAddress) === 0) throw configError(`invalid argument "${bindAddress}" for "--bind-address" flag: failed to parse IP: "${bindAddress}"`);
  const securePort = flags.int('secure-port', 6443);
  checkPort('secure-port', securePort, false);
  const insecureBindAddress = flags.has('insecure-bind-address') ? flags.string('insecure-bind-address') : flags.string('address', '127.0.0.1');
  const insecurePort = flags.has('insecure-port') ? flags.int('insecure-port', 8080) : flags.int('port', 8080);
  checkPort('insecure-port', insecurePort, true);
  const certFile = flags.string('tls-cert-file');
  const keyFile = flags.string('tls-private-key-file');
  if (certFile === '' || keyFile === '') {
    // A real apiserver would generate a self-signed pair in --cert-dir; the stand-in has no X.509 issuer.
    throw configError('unable to load server certificate: --tls-cert-file and --tls-private-key-file are required by this stand-in (it cannot self-sign into --cert-dir)');
  }
  const tls = loadKeyPair('--tls-cert-file', certFile, '--tls-private-key-file', keyFile);
  for (const sni of flags.all('tls-sni-cert-key')) {
    const [files] = sni.split(':');
    const [c, k] = (files ?? '').split(',');
    if (!c || !k) throw configError(`--tls-sni-cert-key "${sni}": expected certfile,keyfile[:names]`);
    loadKeyPair('--tls-sni-cert-key', c, '--tls-sni-cert-key', k);
  }
  let advertiseAddress = flags.string('advertise-address');
  if (advertiseAddress !== '' && isIP(advertiseAddress) === 0) throw configError(`invalid argument "${advertiseAddress}" for "--advertise-address" flag: failed to parse IP`);
  if (advertiseAddress === '') advertiseAddress = bindAddress === '0.0.0.0' || bindAddress === '::' ? firstHostAddress() : bindAddress;

  // Authentication.
  let clientCA: Buffer | undefined;
  if (flags.string('client-ca-file') !== '') {
    loadCertificates('--client-ca-file', flags.string('client-ca-file'));
    clientCA = readFileFor('--client-ca-file', flags.string('client-ca-file'));
  }
  for (const f of ['requestheader-client-ca-file', 'oidc-ca-file', 'kubelet-certificate-authority']) {
    if (flags.string(f) !== '') loadCertificates(`--${f}`, flags.string(f));
  }
  for (const [c, k] of [
    ['kubelet-client-certificate', 'kubelet-client-key'],
    ['proxy-client-cert-file', 'proxy-client-key-file'],
  ] as const) {
    if ((flags.string(c) === '') !== (flags.string(k) === '')) throw configError(`--${c} and --${k} must be specified together`);
    if (flags.string(c) !== '') loadKeyPair(`--${c}`, flags.string(c), `--${k}`, flags.string(k));
  }
  if (flags.string('requestheader-client-ca-file') !== '' && flags.list('requestheader-username-headers').length === 0) {
    log.warning('--requestheader-client-ca-file is set but --requestheader-username-headers is empty');
  }
  const serviceAccountKeys = flags.all('service-account-key-file').flatMap((f) => loadVerificationKeys('--service-account-key-file', f));
  if (flags.all('service-account-key-file').length === 0) {
    log.warning('no --service-account-key-file given: service account tokens are verified with --tls-private-key-file');
    serviceAccountKeys.push(...loadVerificationKeys('--tls-private-key-file', flags.string('tls-private-key-file')));
  }
  const signingKey = flags.string('service-account-signing-key-file');
  const issuer = flags.string('service-account-issuer');
  if ((signingKey === '') !== (issuer === '')) throw configError('service-account-signing-key-file and service-account-issuer are both required');
  if (signingKey !== '') loadPrivateKey('--service-account-signing-key-file', signingKey);
  const tokens = flags.string('token-auth-file') !== '' ? loadStaticUsers('token-auth-file', flags.string('token-auth-file'), false) : new Map();
  const basicUsers = flags.string('basic-auth-file') !== '' ? loadStaticUsers('basic-auth-file', flags.string('basic-auth-file'), true) : new Map();
  for (const f of ['authentication-token-webhook-config-file', 'authorization-webhook-config-file', 'audit-webhook-config-file']) {
    if (flags.string(f) !== '') loadKubeconfig(`--${f}`, flags.string(f));
  }

  // Authorization.
  const modes = flags.list('authorization-mode', ['AlwaysAllow']);
  const seen = new Set<string>();
  for (const m of modes) {
    if (!authorizationModes.has(m)) throw configError(`authorization-mode "${m}" is not a valid mode`);
    if (seen.has(m)) throw configError(`authorization-mode "${m}" has mode specified more than once`);
    seen.add(m);
  }
  if (seen.has('ABAC') && flags.string('authorization-policy-file') === '') throw configError('authorization-mode ABAC\'s authorization policy file not passed');
  if (seen.has('Webhook') && flags.string('authorization-webhook-config-file') === '') throw configError('authorization-mode Webhook\'s authorization config file not passed');
  if (!seen.has('ABAC') && flags.string('authorization-policy-file') !== '') throw configError('cannot specify --authorization-policy-file without mode ABAC');
  if (flags.string('authorization-policy-file') !== '') readFileFor('--authorization-policy-file', flags.string('authorization-policy-file'));
  for (const m of ['ABAC', 'Webhook']) if (seen.has(m)) log.warning(`authorization mode ${m} is accepted but the stand-in grants nothing through it`);

  // Admission.
  const enabled = flags.has('admission-control') ? flags.list('admission-control') : [...defaultAdmissionPlugins, ...flags.list('enable-admission-plugins')];
  const disabled = flags.list('disable-admission-plugins');
  for (const [flag, names] of [
    ['enable-admission-plugins', flags.list('enable-admission-plugins')],
    ['disable-admission-plugins', disabled],
    ['admission-control', flags.list('admission-control')],
  ] as const) {
    for (const n of names) if (!knownAdmissionPlugins.has(n)) throw configError(`${flag} plugin "${n}" is unknown`);
  }
  for (const n of disabled) if (flags.list('enable-admission-plugins').includes(n)) throw configError(`${n} plugins were in both --enable-admission-plugins and --disable-admission-plugins`);
  const admission = new Set(enabled.filter((n) => !disabled.includes(n)));
  if (flags.string('admission-control-config-file') !== '') {
    checkTypedFile('admission-control-config-file', flags.string('admission-control-config-file'), [['AdmissionConfiguration', 'apiserver.k8s.io/v1alpha1']]);
  }

  // Other files.
  if (flags.string('audit-policy-file') !== '') {
    checkTypedFile('audit-policy-file', flags.string('audit-policy-file'), [
      ['Policy', 'audit.k8s.io/v1'],
      ['Policy', 'audit.k8s.io/v1beta1'],
      ['Policy', 'audit.k8s.io/v1alpha1'],
    ]);
  }
  for (const f of ['encryption-provider-config', 'experimental-encryption-provider-config']) {
    if (flags.string(f) !== '') {
      checkTypedFile(f, flags.string(f), [
        ['EncryptionConfiguration', 'apiserver.config.k8s.io/v1'],
        ['EncryptionConfig', 'v1'],
      ]);
    }
  }
  for (const f of ['cloud-config', 'ssh-keyfile']) if (flags.string(f) !== '') readFileFor(`--${f}`, flags.string(f));

  // Services.
  let serviceClusterIPRange = flags.string('service-cluster-ip-range');
  if (serviceClusterIPRange === '') {
    log.info('Network range for service cluster IPs is unspecified. Defaulting to 10.0.0.0/24.');
    serviceClusterIPRange = '10.0.0.0/24';
  }
  const range = parseCidr(serviceClusterIPRange);
  if (!range) throw configError(`invalid argument "${serviceClusterIPRange}" for "--service-cluster-ip-range" flag: invalid CIDR address: ${serviceClusterIPRange}`);
  if (range.hostBits > 20) throw configError('specified --service-cluster-ip-range is too large');
  const nodePorts = flags.string('service-node-port-range', '30000-32767');
  const np = /^(\d+)(?:[-+](\d+))?$/.exec(nodePorts);
  if (!np) throw configError(`invalid argument "${nodePorts}" for "--service-node-port-range" flag: unable to parse port range: ${nodePorts}`);
  // pflag's PortRange: "a-b" is a..b, "a+n" is a..a+n.
  const npBase = Number(np[1]);
  const npSize = np[2] === undefined ? 1 : nodePorts.includes('+') ? Number(np[2]) + 1 : Number(np[2]) - npBase + 1;

  const kubeletClient: KubeletClientOptions = {
    ...(flags.string('kubelet-client-certificate') !== ''
      ? { cert: readFileFor('--kubelet-client-certificate', flags.string('kubelet-client-certificate')), key: readFileFor('--kubelet-client-key', flags.string('kubelet-client-key')) }
      : {}),
    ...(flags.string('kubelet-certificate-authority') !== '' ? { ca: readFileFor('--kubelet-certificate-authority', flags.string('kubelet-certificate-authority')) } : {}),
    preferredAddressTypes: flags.list('kubelet-preferred-address-types', ['Hostname', 'InternalDNS', 'InternalIP', 'ExternalDNS', 'ExternalIP']),
  };

  return {
    kubeletClient,
    bindAddress,
    securePort,
    insecureBindAddress,
    insecurePort,
    advertiseAddress,
    tls,
    ...(clientCA ? { clientCA } : {}),
    authn: { clientCertAuth: clientCA !== undefined, anonymousAuth: flags.bool('anonymous-auth', true), tokens, basicUsers, serviceAccountKeys, serviceAccountLookup: flags.bool('service-account-lookup', true) },
    authorizationModes: modes,
    admission,
    etcdServers,
    etcdTls,
    etcdPrefix,
    serviceClusterIPRange,
    serviceNodePortRange: { base: npBase, size: npSize },
  };
}
