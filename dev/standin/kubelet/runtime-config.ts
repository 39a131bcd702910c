/**
 * What the kubelet hands the runtime for a pod, as v1.13's kuberuntime builds it: the
 * PodSandboxConfig (metadata, hostname, log directory, DNS, port mappings, labels, namespaces,
 * cgroup parent) and each ContainerConfig (command, args, env, working dir, log path, labels and
 * the annotations it reads back later).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ContainerConfig, NamespaceOption, PodSandboxConfig } from './cri-client.js';
import type { ContainerSpec, Pod } from './pod-spec.js';

export const POD_NAME_LABEL = 'io.kubernetes.pod.name';
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const POD_UID_LABEL = 'io.kubernetes.pod.uid';
export const CONTAINER_NAME_LABEL = 'io.kubernetes.container.name';
export const CONTAINER_HASH_ANNOTATION = 'io.kubernetes.container.hash';
export const RESTART_COUNT_ANNOTATION = 'io.kubernetes.container.restartCount';
export const GRACE_PERIOD_ANNOTATION = 'io.kubernetes.pod.terminationGracePeriod';
/** v1.13 keeps the container's preStop handler on the container, so a pod killed without its spec still runs it. */
export const PRE_STOP_ANNOTATION = 'io.kubernetes.container.preStopHandler';

/** v1.13's podLogsRootDirectory. */
export const POD_LOGS_ROOT = '/var/log/pods';

export interface RuntimeSettings {
  nodeName: string;
  clusterDNS: string[];
  clusterDomain: string;
  resolvConf: string;
  cgroupDriver: 'cgroupfs' | 'systemd';
  cgroupsPerQOS: boolean;
}

export function podLogDirectory(uid: string): string {
  return path.join(POD_LOGS_ROOT, uid);
}

export function containerLogPath(name: string, restartCount: number): string {
  return path.join(name, `${restartCount}.log`);
}

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

interface Resources {
  requests?: Record<string, unknown>;
  limits?: Record<string, unknown>;
}

function resourcesOf(c: ContainerSpec): Resources {
  const r = (c as { resources?: unknown }).resources;
  return typeof r === 'object' && r !== null ? (r as Resources) : {};
}

/** The pod's QoS class (v1.13 qos.GetPodQOS, for cpu and memory). */
export function qosClass(pod: Pod): QosClass {
  let any = false;
  let guaranteed = true;
  for (const c of pod.containers) {
    const { requests = {}, limits = {} } = resourcesOf(c);
    for (const r of ['cpu', 'memory']) {
      if (requests[r] !== undefined || limits[r] !== undefined) any = true;
      if (limits[r] === undefined || (requests[r] !== undefined && String(requests[r]) !== String(limits[r]))) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** The pod's cgroup below the QoS tiers, in the driver's syntax (`kubepods-besteffort-pod<uid>.slice`). */
export function cgroupParent(pod: Pod, s: RuntimeSettings): string {
  if (!s.cgroupsPerQOS) return '';
  const tier = qosClass(pod) === 'Guaranteed' ? [] : [qosClass(pod).toLowerCase()];
  const parts = ['kubepods', ...tier, `pod${pod.uid}`];
  if (s.cgroupDriver === 'cgroupfs') return `/${parts.join('/')}`;
  // systemd: every level is a slice named by its path, '-' inside a name escaped as '_'.
  return `${parts.map((p) => p.replace(/-/g, '_')).join('-')}.slice`;
}

interface ResolvConf {
  servers: string[];
  searches: string[];
  options: string[];
}

function readResolvConf(file: string): ResolvConf {
  const out: ResolvConf = { servers: [], searches: [], options: [] };
  if (file === '') return out;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [key, ...rest] = line.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.servers.push(rest[0]);
    else if (key === 'search') out.searches = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

/** v1.13 dns.go: ClusterFirst(WithHostNet) → the cluster DNS, Default → the node's resolv.conf, None → dnsConfig alone. */
export function dnsConfigFor(pod: Pod, s: RuntimeSettings): { servers: string[]; searches: string[]; options: string[] } {
  let policy = pod.dnsPolicy;
  if (policy === 'ClusterFirst' && pod.hostNetwork) policy = 'Default';
  if ((policy === 'ClusterFirst' || policy === 'ClusterFirstWithHostNet') && s.clusterDNS.length === 0) policy = 'Default';
  const host = readResolvConf(s.resolvConf);
  let base: ResolvConf;
  if (policy === 'None') base = { servers: [], searches: [], options: [] };
  else if (policy === 'Default') base = host;
  else {
    const domain = s.clusterDomain;
    const cluster = domain === '' ? [] : [`${pod.namespace}.svc.${domain}`, `svc.${domain}`, domain];
    base = { servers: [...s.clusterDNS], searches: [...cluster, ...host.searches], options: ['ndots:5'] };
  }
  const extra = pod.dnsConfig;
  if (extra) {
    base.servers.push(...(extra.nameservers ?? []));
    base.searches.push(...(extra.searches ?? []));
    for (const o of extra.options ?? []) {
      const text = o.value === undefined ? o.name : `${o.name}:${o.value}`;
      base.options = base.options.filter((x) => x.split(':')[0] !== o.name).concat(text);
    }
  }
  // resolv.conf takes at most 6 search domains (validation.MaxDNSSearchPaths).
  return { servers: base.servers.slice(0, 3), searches: [...new Set(base.searches)].slice(0, 6), options: base.options };
}

export function namespaceOptions(pod: Pod): NamespaceOption {
  return {
    network: pod.hostNetwork ? 'NODE' : 'POD',
    pid: pod.hostPID ? 'NODE' : pod.shareProcessNamespace ? 'POD' : 'CONTAINER',
    ipc: pod.hostIPC ? 'NODE' : 'POD',
  };
}

function podLabels(pod: Pod): Record<string, string> {
  return { ...pod.labels, [POD_NAME_LABEL]: pod.name, [POD_NAMESPACE_LABEL]: pod.namespace, [POD_UID_LABEL]: pod.uid };
}

export function sandboxConfig(pod: Pod, attempt: number, s: RuntimeSettings): PodSandboxConfig {
  const hostname = pod.hostNetwork ? '' : (pod.hostname ?? pod.name).slice(0, 63).replace(/[-.]+$/, '');
  return {
    metadata: { name: pod.name, uid: pod.uid, namespace: pod.namespace, attempt },
    hostname,
    logDirectory: podLogDirectory(pod.uid),
    dnsConfig: dnsConfigFor(pod, s),
    portMappings: pod.containers.flatMap((c) =>
      (c.ports ?? []).map((p) => ({ protocol: p.protocol ?? 'TCP', containerPort: p.containerPort, hostPort: p.hostPort ?? 0, hostIp: p.hostIP ?? '' })),
    ),
    labels: podLabels(pod),
    annotations: { ...pod.annotations },
    linux: {
      cgroupParent: cgroupParent(pod, s),
      securityContext: { namespaceOptions: namespaceOptions(pod), privileged: pod.containers.some((c) => c.securityContext?.privileged === true) },
    },
  };
}

/** A hash of the container's spec, so a changed spec is noticed (v1.13 HashContainer, here sha256). */
export function containerHash(c: ContainerSpec): string {
  return createHash('sha256').update(JSON.stringify(c)).digest('hex').slice(0, 8);
}

/** `$(VAR)` references expanded from `env`, `$$` escaping a dollar (v1.13 expansion.Expand). */
export function expandVars(text: string, env: Map<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && env.has(name) ? env.get(name)! : m;
  });
}

export interface ContainerExtras {
  /** The service environment variables (service-env.ts). */
  serviceEnv?: ReadonlyMap<string, string>;
  mounts?: Array<{ containerPath: string; hostPath: string; readonly: boolean }>;
}

/**
 * v1.13 makeEnvironmentVariables: the container's own variables first (`$(VAR)` may name an
 * earlier one or a service variable), then each service variable the container does not define.
 */
export function containerEnv(c: ContainerSpec, serviceEnv: ReadonlyMap<string, string> = new Map()): Array<{ key: string; value: string }> {
  const env = new Map<string, string>();
  const envs: Array<{ key: string; value: string }> = [];
  for (const e of c.env ?? []) {
    // valueFrom (secrets, config maps, the downward API) is not resolved by the stand-in.
    if (e.value === undefined) continue;
    const value = expandVars(e.value, new Map([...serviceEnv, ...env]));
    env.set(e.name, value);
    envs.push({ key: e.name, value });
  }
  for (const [key, value] of serviceEnv) if (!env.has(key)) envs.push({ key, value });
  return envs;
}

export function containerConfig(pod: Pod, c: Pod['containers'][number], restartCount: number, imageRef: string, extras: ContainerExtras = {}): ContainerConfig {
  const envs = containerEnv(c, extras.serviceEnv);
  const env = new Map(envs.map((e) => [e.key, e.value]));
  return {
    metadata: { name: c.name, attempt: restartCount },
    image: { image: imageRef },
    command: (c.command ?? []).map((a) => expandVars(a, env)),
    args: (c.args ?? []).map((a) => expandVars(a, env)),
    workingDir: c.workingDir ?? '',
    envs,
    mounts: extras.mounts ?? [],
    labels: { [CONTAINER_NAME_LABEL]: c.name, [POD_NAME_LABEL]: pod.name, [POD_NAMESPACE_LABEL]: pod.namespace, [POD_UID_LABEL]: pod.uid },
    annotations: {
      [CONTAINER_HASH_ANNOTATION]: containerHash(c),
      [RESTART_COUNT_ANNOTATION]: String(restartCount),
      'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
      'io.kubernetes.container.terminationMessagePolicy': 'File',
      [GRACE_PERIOD_ANNOTATION]: String(pod.terminationGracePeriodSeconds),
      ...(c.ports && c.ports.length > 0 ? { 'io.kubernetes.container.ports': JSON.stringify(c.ports) } : {}),
      ...(c.lifecycle?.preStop ? { [PRE_STOP_ANNOTATION]: JSON.stringify(c.lifecycle.preStop) } : {}),
    },
    logPath: containerLogPath(c.name, restartCount),
    stdin: c.stdin ?? false,
    stdinOnce: c.stdinOnce ?? false,
    tty: c.tty ?? false,
    linux: { securityContext: { privileged: c.securityContext?.privileged === true, namespaceOptions: namespaceOptions(pod) } },
  };
}
