/**
 * `kprov lab down`: stops a lab's containers and mirror by their recorded PIDs, then removes
 * mounts, namespaces and the lab's directory. Idempotent, and works on labs that were
 * interrupted half-way (it undoes whatever state.json says was being created).
 */
import { readdir, rm, rmdir } from 'node:fs/promises';
import { KprovError } from '../errors.js';
import { removeCgroupTree, removeLabCgroups } from './cgroups.js';
import type { LabEventSink } from './events.js';
import { mountsUnder, unmountAll } from './mounts.js';
import { hostNamespacePattern, labNamespace, validateLabName } from './names.js';
import { deleteNamespace, namespaceExists, netnsPath } from './network.js';
import { labDir } from './paths.js';
import { DOWN_COMMANDS, requireCommands, requireRoot } from './preflight.js';
import { killProcesses, processesInNetns, stopProcess } from './processes.js';
import { readLabState, writeStateFile, type HostState, type LabState } from './state.js';

export interface LabDownOptions {
  env?: NodeJS.ProcessEnv;
  onEvent?: LabEventSink;
  /** How long a container may take to power off after SIGTERM before it is killed. */
  graceMs?: number;
}

export interface LabDownResult {
  /** False when there was nothing to remove. */
  existed: boolean;
  hosts: number;
}

const DEFAULT_GRACE_MS = 20_000;

export async function labDown(name: string, options: LabDownOptions = {}): Promise<LabDownResult> {
  validateLabName(name);
  requireRoot();
  const env = options.env ?? process.env;
  requireCommands(DOWN_COMMANDS, env);
  const emit: LabEventSink = options.onEvent ?? (() => undefined);
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const dir = labDir(name, env);
  const state = await readLabState(name, env).catch((err: unknown) => {
    // A state file that cannot be read still leaves the namespaces and mounts to find below.
    emit({ type: 'cleanup', reason: err instanceof Error ? err.message : String(err) });
    return undefined;
  });

  const namespace = state?.namespace ?? labNamespace(name);
  const hostNamespaces = await findHostNamespaces(name, state);
  const dirExists = await readdir(dir).then(
    () => true,
    () => false,
  );
  const existed = dirExists || (await namespaceExists(namespace)) || hostNamespaces.length > 0;
  if (!existed) return { existed: false, hosts: 0 };

  if (state && state.phase !== 'stopping') {
    state.phase = 'stopping';
    await writeStateFile(dir, state);
  }

  if (state?.mirror?.process) {
    await stopProcess(state.mirror.process, 5_000);
    emit({ type: 'removed', what: 'artifact mirror' });
  }
  if (state?.registry?.process) {
    await stopProcess(state.registry.process, 5_000);
    emit({ type: 'removed', what: 'image registry' });
  }

  const hosts = state?.hosts ?? [];
  await Promise.all(hosts.map((h) => stopHost(h, graceMs, emit)));
  // Namespaces no state recorded (the state file was lost): empty them the same way.
  for (const ns of hostNamespaces) {
    if (hosts.some((h) => h.namespace === ns)) continue;
    await killProcesses(await processesInNetns(netnsPath(ns)));
    await deleteNamespace(ns);
  }

  await killProcesses(await processesInNetns(netnsPath(namespace)));
  await deleteNamespace(namespace);
  emit({ type: 'removed', what: `namespace ${namespace}` });

  await removeLabCgroups(name, state?.cgroups ?? []);
  await unmountAll(dir);
  const leftMounts = await mountsUnder(dir);
  const leftNamespaces = (await Promise.all([namespace, ...hostNamespaces].map(async (ns) => ((await namespaceExists(ns)) ? ns : undefined)))).filter(
    (ns): ns is string => ns !== undefined,
  );
  if (leftMounts.length > 0 || leftNamespaces.length > 0) {
    throw new KprovError('lab', `lab "${name}" could not be removed completely: ${[...leftMounts, ...leftNamespaces].join(', ')} remain`, {
      hint: `run kprov lab down --name ${name} again; the lab's state is kept in ${dir}`,
    });
  }
  await rm(dir, { recursive: true, force: true });
  emit({ type: 'removed', what: dir });
  return { existed: true, hosts: hosts.length };
}

async function findHostNamespaces(name: string, state: LabState | undefined): Promise<string[]> {
  const pattern = hostNamespacePattern(name);
  const present = (await readdir('/run/netns').catch(() => [] as string[])).filter((ns) => pattern.test(ns));
  return [...new Set([...(state?.hosts.map((h) => h.namespace) ?? []), ...present])];
}

async function stopHost(host: HostState, graceMs: number, emit: LabEventSink): Promise<void> {
  // SIGTERM to nspawn powers the container off cleanly.
  const outcome = host.nspawn ? await stopProcess(host.nspawn, graceMs) : 'not-running';
  // Whatever is left in the host's namespace (a container whose nspawn died, a stray exec).
  const leftovers = [...(await processesInNetns(netnsPath(host.namespace))), ...(host.leader ? [host.leader] : [])];
  await killProcesses(leftovers);
  await unmountAll(host.dir);
  // Its container images and snapshots (the host's own mounts of them died with the host).
  if (host.containerdDir) await rm(host.containerdDir, { recursive: true, force: true });
  await deleteNamespace(host.namespace);
  for (const dir of host.cgroups) await removeCgroupTree(dir);
  // nspawn leaves an empty directory per machine; rmdir never removes anything but that.
  await rmdir(`/run/systemd/nspawn/propagate/${host.machine}`).catch(() => undefined);
  emit({ type: 'host-stopped', host: host.name, outcome });
}
