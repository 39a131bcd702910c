/**
 * One lab host: systemd-nspawn booting systemd from the host's overlay root, inside the host's
 * network namespace. nspawn is started from the root namespace (under `ip netns exec` it fails
 * on the remounted /sys) and detached, so it outlives the `kprov lab up` that started it.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { KprovError } from '../errors.js';
import { inCgroupsArgv } from './cgroups.js';
import { CONTAINERD_ROOT } from './container-support.js';
import { netnsPath } from './network.js';
import { childrenOf, innermostPid, processRef, type ProcessRef } from './processes.js';

export interface ContainerSpec {
  root: string;
  machine: string;
  hostName: string;
  namespace: string;
  consoleLog: string;
  /** The host's own cgroups (see cgroups.ts), joined before nspawn starts. */
  cgroups: readonly string[];
  /** A directory on the machine's disk for containerd's state (see container-support.ts). */
  containerdDir: string;
}

/** The PATH commands run with inside a host (its own, not the caller's). */
export const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function nspawnArgs(spec: ContainerSpec): string[] {
  return [
    `--directory=${spec.root}`,
    // This machine's PID 1 is not systemd: no machined to register with, no scope to create.
    '--register=no',
    '--keep-unit',
    '--boot',
    `--machine=${spec.machine}`,
    `--hostname=${spec.hostName}`,
    `--network-namespace-path=${netnsPath(spec.namespace)}`,
    '--link-journal=no',
    '--resolv-conf=off',
    '--timezone=off',
    '--console=read-only',
    // Real hosts configure their own network: kprov sets net.ipv4.ip_forward and pod routes.
    // Each host has a network namespace of its own, so this reaches nothing beyond it.
    '--capability=CAP_NET_ADMIN',
    // containerd's snapshots are overlays, which cannot have the host's overlay root as upper layer.
    `--bind=${spec.containerdDir}:${CONTAINERD_ROOT}`,
    // runc gives each container a session keyring; nspawn's seccomp filter denies keyctl(2)
    // otherwise, and allowing it keeps containerd's config the same as on real hosts.
    '--system-call-filter=@keyring',
  ];
}

/** Exit status of the cgroup-joining wrapper when the kernel refused the join (cgroups.ts). */
const CGROUP_JOIN_FAILED = 125;
const START_ATTEMPTS = 3;

/**
 * Starts the container and returns nspawn's process (the caller records it at once). Joining the
 * host's cgroups can fail for a moment while another lab's cgroups are being created or removed
 * (seen as `echo: I/O error` on the console of a loaded machine): that start is tried again,
 * bounded.
 */
export async function startContainer(spec: ContainerSpec): Promise<ProcessRef> {
  for (let attempt = 1; ; attempt++) {
    const started = await startOnce(spec);
    if (started !== CGROUP_JOIN_FAILED) return started;
    if (attempt >= START_ATTEMPTS) throw new KprovError('lab', `${spec.machine} could not join its cgroups (${START_ATTEMPTS} attempts)`, { hint: `see ${spec.consoleLog}` });
    await sleep(1_000);
  }
}

async function startOnce(spec: ContainerSpec): Promise<ProcessRef | typeof CGROUP_JOIN_FAILED> {
  const log = openSync(spec.consoleLog, 'a', 0o600);
  try {
    const [command, ...args] = inCgroupsArgv(spec.cgroups, ['systemd-nspawn', ...nspawnArgs(spec)]);
    const child = spawn(command!, args, {
      detached: true,
      stdio: ['ignore', log, log],
      // /proc/sys/net writable inside the container (it is the host's own network namespace).
      env: { PATH: process.env['PATH'] ?? CONTAINER_PATH, LANG: 'C.UTF-8', SYSTEMD_NSPAWN_API_VFS_WRITABLE: 'network' },
    });
    const pid = child.pid;
    if (pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new KprovError('lab', `cannot start systemd-nspawn: ${error.message}`);
    }
    // The wrapper fails within moments when the cgroup join is refused; nspawn itself stays.
    const early = await new Promise<number | null | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 300);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    if (early === CGROUP_JOIN_FAILED) return CGROUP_JOIN_FAILED;
    child.unref();
    const ref = await processRef(pid);
    if (!ref) throw new KprovError('lab', `systemd-nspawn for ${spec.machine} exited at once`, { hint: `see ${spec.consoleLog}` });
    return ref;
  } finally {
    closeSync(log);
  }
}

/** The container's init: nspawn's child that is PID 1 in its own PID namespace. */
export async function findLeader(nspawn: ProcessRef, timeoutMs: number): Promise<ProcessRef | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const child of await childrenOf(nspawn.pid)) {
      if ((await innermostPid(child)) === 1) return processRef(child);
    }
    await sleep(50);
  }
  return undefined;
}

/** argv that runs `command` inside a host, entering every namespace of its init. */
export function containerExecArgv(leaderPid: number, command: readonly string[], env: Readonly<Record<string, string>> = {}): string[] {
  const vars = { PATH: CONTAINER_PATH, HOME: '/root', LANG: 'C.UTF-8', ...env };
  return [
    'nsenter',
    `--target=${leaderPid}`,
    '--mount',
    '--uts',
    '--ipc',
    '--net',
    '--pid',
    '--cgroup',
    '--root',
    '--wd',
    '--',
    'env',
    '-i',
    ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
    ...command,
  ];
}
