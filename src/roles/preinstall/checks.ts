/**
 * Preflight as a pure function: a host's facts and probe, what the host will run, and the other
 * hosts' hostnames in; every failed check out, each saying what was found and what is expected.
 * Nothing here talks to a host, so every failure kind is tested on plain data.
 */
import type { HostFacts } from '../../engine/contract.js';
import { POD_CGROUP, type HostProbe, type Listener } from './probe.js';

/** What the host will run, which decides its ports and its memory minimum. */
export interface HostDuties {
  controlPlane: boolean;
  etcd: boolean;
  /** Runs a kubelet and kube-proxy (member of k8s_cluster). */
  node: boolean;
}

export interface PreflightSettings {
  minMemoryMbControlPlane: number;
  minMemoryMbNode: number;
  apiserverPort: number;
}

export interface PreflightFailure {
  check: string;
  found: string;
  expected: string;
}

/** A port a cluster component binds, and the kprov unit that may already hold it. */
export interface ComponentPort {
  port: number;
  what: string;
  unit: string;
  /** Also fine when a pod holds it: the control plane as static pods. */
  staticPod?: boolean;
}

/** The ports each duty needs (kubeadm's preflight list plus the health/metrics ports kprov's units bind). */
export function componentPorts(duties: HostDuties, settings: Pick<PreflightSettings, 'apiserverPort'>): ComponentPort[] {
  const ports: ComponentPort[] = [];
  if (duties.etcd) {
    ports.push({ port: 2379, what: 'etcd client', unit: 'etcd.service', staticPod: true }, { port: 2380, what: 'etcd peer', unit: 'etcd.service', staticPod: true });
  }
  if (duties.controlPlane) {
    ports.push(
      { port: settings.apiserverPort, what: 'kube-apiserver', unit: 'kube-apiserver.service', staticPod: true },
      { port: 10251, what: 'kube-scheduler healthz', unit: 'kube-scheduler.service', staticPod: true },
      { port: 10252, what: 'kube-controller-manager healthz', unit: 'kube-controller-manager.service', staticPod: true },
    );
  }
  if (duties.node) {
    ports.push(
      { port: 10248, what: 'kubelet healthz', unit: 'kubelet.service' },
      { port: 10250, what: 'kubelet API', unit: 'kubelet.service' },
      { port: 10249, what: 'kube-proxy metrics', unit: 'kube-proxy.service' },
      { port: 10256, what: 'kube-proxy healthz', unit: 'kube-proxy.service' },
    );
  }
  return ports;
}

function describeHolder(l: Listener): string {
  if (l.processes.length === 0) return `something (no process shown) on ${l.local}`;
  const procs = l.processes.map((p) => `"${p.name}" (pid ${p.pid}, ${p.unit ?? 'not a systemd service'})`);
  return `${[...new Set(procs)].join(', ')} on ${l.local}`;
}

function portFailures(probe: HostProbe, ports: readonly ComponentPort[]): PreflightFailure[] {
  if (probe.listeners === undefined) {
    return ports.length === 0
      ? []
      : [{ check: 'ports', found: probe.listenersError ?? 'listening sockets could not be read', expected: 'ss (iproute2) to list listening sockets' }];
  }
  const out: PreflightFailure[] = [];
  for (const want of ports) {
    const holders = probe.listeners.filter((l) => l.port === want.port);
    // Held by the very unit kprov runs there, or its static pod (a re-run on a working cluster): fine.
    const ours = (unit: string | undefined) => unit === want.unit || (want.staticPod === true && unit === POD_CGROUP);
    const foreign = holders.filter((l) => l.processes.length === 0 || l.processes.some((p) => !ours(p.unit)));
    if (foreign.length === 0) continue;
    out.push({
      check: `port ${want.port} (${want.what})`,
      found: `in use by ${foreign.map(describeHolder).join('; ')}`,
      expected: `free, or held by ${want.unit}${want.staticPod ? ' or its static pod' : ''}`,
    });
  }
  return out;
}

/**
 * Every check for one host. `otherHostnames` maps the other hosts of the play to their hostnames
 * (as far as they could be read).
 */
export function preflightFailures(input: {
  facts: HostFacts;
  probe: HostProbe;
  duties: HostDuties;
  settings: PreflightSettings;
  otherHostnames: ReadonlyMap<string, string>;
}): PreflightFailure[] {
  const { facts, probe, duties, settings } = input;
  const failures: PreflightFailure[] = [];

  if (facts.systemdVersion === undefined) {
    failures.push({ check: 'systemd', found: 'systemctl not found', expected: 'systemd (kprov runs every component as a systemd unit)' });
  }

  const activeSwap = probe.swaps.length > 0 ? probe.swaps : facts.swapMb > 0 ? [{ device: 'swap', sizeMb: facts.swapMb }] : [];
  if (duties.node && activeSwap.length > 0) {
    failures.push({
      check: 'swap',
      found: `swap is on: ${activeSwap.map((s) => `${s.device} (${s.sizeMb} MiB)`).join(', ')}`,
      expected: 'no active swap (kubelet v1.13 refuses to start with swap on: run `swapoff -a` and remove swap from /etc/fstab)',
    });
  }

  failures.push(...portFailures(probe, componentPorts(duties, settings)));

  const minimum = duties.controlPlane ? settings.minMemoryMbControlPlane : settings.minMemoryMbNode;
  const minimumVar = duties.controlPlane ? 'preflight_min_memory_mb_control_plane' : 'preflight_min_memory_mb_node';
  if (facts.memoryMb < minimum) {
    failures.push({ check: 'memory', found: `${facts.memoryMb} MiB`, expected: `at least ${minimum} MiB (${minimumVar})` });
  }

  const mine = facts.hostname.toLowerCase();
  const clashes = [...input.otherHostnames].filter(([, h]) => h.toLowerCase() === mine).map(([name]) => name);
  if (clashes.length > 0) {
    failures.push({
      check: 'hostname',
      found: `"${facts.hostname}", also the hostname of ${clashes.join(', ')}`,
      expected: 'a hostname no other host of the cluster has',
    });
  }

  const forward = probe.ipForward;
  if (duties.node && forward.value !== '1' && !forward.writable) {
    failures.push({
      check: 'net.ipv4.ip_forward',
      found: forward.value === 'missing' ? 'not present in /proc/sys' : `${forward.value}, and /proc/sys/net/ipv4/ip_forward is read-only`,
      expected: '1, or writable so that kprov can set it (pods are routed through the host)',
    });
  }

  if (duties.node && probe.brNetfilter === 'missing') {
    failures.push({
      check: 'br_netfilter',
      found: 'not loaded, not built in, and no module to load',
      expected: 'bridge netfilter (the br_netfilter kernel module), so iptables sees bridged pod traffic',
    });
  }

  if (duties.node && probe.httpClient === 'none') {
    failures.push({ check: 'http client', found: 'neither curl nor wget', expected: 'curl or wget (kprov probes kubelet and kube-proxy health with it)' });
  }

  return failures;
}

/** The error text: one line per failed check, so every problem of a host is seen at once. */
export function formatFailures(failures: readonly PreflightFailure[]): string {
  const head = `preflight: ${failures.length} check${failures.length === 1 ? '' : 's'} failed`;
  return [head, ...failures.map((f) => `  - ${f.check}: found ${f.found}; expected ${f.expected}`)].join('\n');
}
