/** The Node object a kubelet registers and the status it reports with every heartbeat. */
import { readFileSync } from 'node:fs';
import { cpus, networkInterfaces, release, totalmem } from 'node:os';
import { kubeTime } from '../common/objects.js';
import { kubeVersion } from '../common/version.js';
import type { KubeletSettings } from './settings.js';

function readTrimmed(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function osImage(): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readTrimmed('/etc/os-release'));
  return m?.[1] ?? 'Linux';
}

/** --node-ip, else the first non-loopback IPv4 address, else loopback (a lone network namespace). */
export function nodeAddress(settings: KubeletSettings): string {
  if (settings.nodeIP) return settings.nodeIP;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export function registrationObject(settings: KubeletSettings): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: settings.nodeName,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/hostname': settings.nodeName,
        ...settings.nodeLabels,
      },
      annotations: { 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: {
      ...(settings.podCIDR ? { podCIDR: settings.podCIDR } : {}),
      ...(settings.taints.length > 0 ? { taints: settings.taints } : {}),
    },
  };
}

export interface Readiness {
  ready: boolean;
  message: string;
  runtimeVersion: string;
}

/** Tracks lastTransitionTime: it only moves when a condition's status changes. */
export class ConditionClock {
  private readonly since = new Map<string, { status: string; at: string }>();

  transition(type: string, status: string, now: string): string {
    const prev = this.since.get(type);
    if (prev && prev.status === status) return prev.at;
    this.since.set(type, { status, at: now });
    return now;
  }
}

export function nodeStatus(settings: KubeletSettings, r: Readiness, clock: ConditionClock): Record<string, unknown> {
  const now = kubeTime();
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: now,
    lastTransitionTime: clock.transition(type, status, now),
    reason,
    message,
  });
  const memoryKi = `${Math.floor(totalmem() / 1024)}Ki`;
  const resources = { cpu: String(cpus().length), memory: memoryKi, pods: String(settings.maxPods), 'ephemeral-storage': '0' };
  return {
    conditions: [
      condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      r.ready
        ? condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
        : condition('Ready', 'False', 'KubeletNotReady', r.message),
    ],
    addresses: [
      { type: 'InternalIP', address: nodeAddress(settings) },
      { type: 'Hostname', address: settings.nodeName },
    ],
    capacity: resources,
    allocatable: resources,
    daemonEndpoints: { kubeletEndpoint: { Port: settings.port } },
    nodeInfo: {
      machineID: readTrimmed('/etc/machine-id'),
      systemUUID: readTrimmed('/sys/class/dmi/id/product_uuid').toUpperCase(),
      bootID: readTrimmed('/proc/sys/kernel/random/boot_id'),
      kernelVersion: release(),
      osImage: osImage(),
      containerRuntimeVersion: r.runtimeVersion,
      kubeletVersion: kubeVersion,
      kubeProxyVersion: kubeVersion,
      operatingSystem: 'linux',
      architecture: 'amd64',
    },
  };
}
