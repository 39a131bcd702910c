/**
 * `kprov lab up`: boots N throwaway Debian hosts (systemd + sshd) and writes an inventory for
 * them. Every resource is recorded in state.json before it is created; if anything fails, what
 * was made is taken down again before the error is reported.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { initInventory } from '../inventory/scaffold.js';
import { pinInventory, readReleasePins } from './release-pins.js';
import { KprovError } from '../errors.js';
import { ensureBaseImage } from './base-image.js';
import { hostCgroupDirs, labCgroupDirs, makeCgroup } from './cgroups.js';
import { containerExecArgv, findLeader, startContainer } from './container.js';
import { containerdDir, installCgroupRemountUnit } from './container-support.js';
import type { LabEventSink } from './events.js';
import { hashPassword, hostRootPaths, mountHostRoot, personalizeHostRoot } from './host-root.js';
import { BOOTSTRAP_PASSWORD_FILE, writeLabFiles, type LabFile } from './lab-files.js';
import { labDown } from './down.js';
import { logTail, startMirror } from './lab-servers.js';
import { ensureRegistryBinary } from './registry-binary.js';
import { startRegistry } from './registry.js';
import {
  BRIDGE_ADDRESS,
  BRIDGE_NAME,
  DEFAULT_HOSTS,
  DEFAULT_LAB_NAME,
  LAB_PREFIX_LENGTH,
  LAB_SUBNET_PREFIX,
  hostAddress,
  hostName,
  hostNamespace,
  labNamespace,
  machineName,
  mirrorListen,
  validateHostCount,
  validateLabName,
  vethName,
} from './names.js';
import { createHostNetwork, createLabNetwork, namespaceExists } from './network.js';
import { labDir, labsDir, stateRoot } from './paths.js';
import { UP_COMMANDS, requireCommands, requireFreeSpace, requireRoot } from './preflight.js';
import { isRunning } from './processes.js';
import { run } from './run.js';
import { LabStateStore, type HostState, type LabState } from './state.js';
import { failedUnits, waitForSystemd, waitForTcp, watchTcp } from './wait.js';

export interface LabUpOptions {
  name?: string;
  hosts?: number;
  /** Absolute path; default `inventory/<name>` under the caller's directory. */
  inventoryDir: string;
  /** What the mirror serves; default `<inventoryDir>/../.mirror`. */
  mirrorRoot?: string;
  /** An OpenSSH public key line authorized for root and the lab user on every host. */
  authorizedKey?: string;
  /** Bound on waiting for sshd and for systemd to finish booting. */
  bootTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  onEvent?: LabEventSink;
}

export interface LabUpHost {
  name: string;
  address: string;
  machine: string;
  /** From starting the container to sshd's banner (polled every 100 ms). */
  sshMs: number;
}

export interface LabUpResult {
  name: string;
  namespace: string;
  inventoryDir: string;
  passwordFile: string;
  mirrorUrl: string;
  mirrorRoot: string;
  /** The lab's image registry, http://10.213.0.1:5000 (inside the lab namespace). */
  registryUrl: string;
  hosts: LabUpHost[];
  /**
   * Base image and registry program (each ~0 when cached), creating and starting every host,
   * until every sshd answered, all of it.
   */
  timings: { baseImageMs: number; registryBinaryMs: number; hostsMs: number; sshMs: number; totalMs: number };
}

/** fs.inotify limits every host's systemd needs (the default 128 instances stop at ~15 hosts). */
const INOTIFY_LIMITS: Readonly<Record<string, number>> = {
  '/proc/sys/fs/inotify/max_user_instances': 8192,
  '/proc/sys/fs/inotify/max_user_watches': 1048576,
};
/** A host's upper layer after boot is a few MB; leave room for what tests install. */
const SPACE_PER_HOST_BYTES = 64 * 1024 * 1024;
const DEFAULT_BOOT_TIMEOUT_MS = 60_000;
/** Preparing a host runs ssh-keygen and mounts; a few at a time keep 2 cores responsive. */
const PREPARE_CONCURRENCY = 4;

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined)) !== undefined;
}

/** Checks everything that can be checked before anything is created. */
async function preflight(name: string, hosts: number, env: NodeJS.ProcessEnv): Promise<void> {
  validateLabName(name);
  validateHostCount(hosts);
  requireRoot();
  requireCommands(UP_COMMANDS, env);
  await assertNameFree(name, env);
  await requireFreeSpace(stateRoot(env), hosts * SPACE_PER_HOST_BYTES);
}

async function assertNameFree(name: string, env: NodeJS.ProcessEnv): Promise<void> {
  if ((await exists(labDir(name, env))) || (await namespaceExists(labNamespace(name)))) {
    throw new KprovError('lab', `a lab named "${name}" already exists`, {
      hint: `choose another --name, or remove it first: kprov lab down --name ${name}`,
    });
  }
}

/** Only ever raises the limits: other software on the machine may have set them higher. */
async function raiseInotifyLimits(): Promise<void> {
  for (const [file, wanted] of Object.entries(INOTIFY_LIMITS)) {
    const current = Number((await readFile(file, 'utf8')).trim());
    if (current < wanted) await writeFile(file, `${wanted}\n`);
  }
}

/**
 * A lab's hosts are new machines with new host keys: an earlier lab's pinned keys and cluster
 * credentials in the same directory would make every connection fail as a changed host key.
 * A directory that is not a lab inventory is refused rather than overwritten.
 */
async function prepareInventoryDir(inventoryDir: string): Promise<void> {
  const entries = await readdir(inventoryDir).catch(() => [] as string[]);
  if (entries.length === 0) return;
  if (!entries.includes('lab.json')) {
    throw new KprovError('usage', `${inventoryDir} already holds an inventory that is not a lab's`, {
      hint: 'choose another directory with --inventory DIR',
    });
  }
  await rm(path.join(inventoryDir, 'known_hosts'), { force: true });
  await rm(path.join(inventoryDir, 'credentials'), { recursive: true, force: true });
}

export async function labUp(options: LabUpOptions): Promise<LabUpResult> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const name = options.name ?? DEFAULT_LAB_NAME;
  const count = options.hosts ?? DEFAULT_HOSTS;
  const emit: LabEventSink = options.onEvent ?? (() => undefined);
  const bootTimeoutMs = options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS;
  const inventoryDir = path.resolve(options.inventoryDir);
  const mirrorRoot = path.resolve(options.mirrorRoot ?? path.join(inventoryDir, '..', '.mirror'));

  await preflight(name, count, env);
  const baseImage = await ensureBaseImage({ env, onEvent: emit });
  const baseImageMs = Date.now() - started;
  const registryBinary = await ensureRegistryBinary({ env, onEvent: emit });
  const registryBinaryMs = Date.now() - started - baseImageMs;

  // Claim the name: mkdir fails if another `lab up` got there first.
  const dir = labDir(name, env);
  await mkdir(labsDir(env), { recursive: true });
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') await assertNameFree(name, env);
    throw err;
  }
  try {
    await prepareInventoryDir(inventoryDir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const namespace = labNamespace(name);
  const initial: LabState = {
    version: 1,
    name,
    createdAt: new Date().toISOString(),
    phase: 'creating',
    namespace,
    bridge: { name: BRIDGE_NAME, address: BRIDGE_ADDRESS, prefixLength: LAB_PREFIX_LENGTH },
    baseImage,
    inventoryDir,
    cgroups: await labCgroupDirs(name),
    hosts: [],
  };
  const store = new LabStateStore(dir, initial);
  try {
    await store.update(() => undefined);
    return await bringUp({
      store,
      name,
      count,
      dir,
      namespace,
      inventoryDir,
      mirrorRoot,
      baseImage,
      registryBinary,
      bootTimeoutMs,
      emit,
      options,
      started,
      timings: { baseImageMs, registryBinaryMs },
    });
  } catch (err) {
    emit({ type: 'cleanup', reason: err instanceof Error ? err.message : String(err) });
    await keepLogs(store.state, failedLogsDir(name, env)).catch(() => undefined);
    await labDown(name, { env }).catch(() => undefined);
    throw err;
  }
}

/** Where the logs of a lab that failed to come up are kept (the lab's own directory is removed). */
export function failedLogsDir(name: string, env: NodeJS.ProcessEnv): string {
  return path.join(stateRoot(env), 'failed', name);
}

async function keepLogs(state: LabState, target: string): Promise<void> {
  await rm(target, { recursive: true, force: true });
  await mkdir(target, { recursive: true, mode: 0o700 });
  for (const host of state.hosts) {
    await copyFile(host.consoleLog, path.join(target, `${host.name}.console.log`)).catch(() => undefined);
    // The journal says why a unit failed; the console only that it did.
    if (host.leader && (await isRunning(host.leader))) {
      const [command, ...args] = containerExecArgv(host.leader.pid, ['journalctl', '--boot', '--no-pager', '--priority=info']);
      const journal = await run(command!, args, { timeoutMs: 15_000, allowFailure: true }).catch(() => undefined);
      if (journal) await writeFile(path.join(target, `${host.name}.journal.log`), journal.stdout, { mode: 0o600 });
    }
  }
  if (state.mirror) await copyFile(state.mirror.log, path.join(target, 'mirror.log')).catch(() => undefined);
  if (state.registry) await copyFile(state.registry.log, path.join(target, 'registry.log')).catch(() => undefined);
}

interface BringUpContext {
  store: LabStateStore;
  name: string;
  count: number;
  dir: string;
  namespace: string;
  inventoryDir: string;
  mirrorRoot: string;
  baseImage: string;
  registryBinary: string;
  bootTimeoutMs: number;
  emit: LabEventSink;
  options: LabUpOptions;
  started: number;
  timings: { baseImageMs: number; registryBinaryMs: number };
}

async function bringUp(ctx: BringUpContext): Promise<LabUpResult> {
  const { store, name, count, dir, namespace, inventoryDir, mirrorRoot, emit } = ctx;
  await raiseInotifyLimits();
  await createLabNetwork(namespace);
  emit({ type: 'network', namespace });

  await mkdir(mirrorRoot, { recursive: true });
  const listen = mirrorListen();
  const mirrorLog = path.join(dir, 'mirror.log');
  await store.update((s) => {
    s.mirror = { root: mirrorRoot, listen, log: mirrorLog };
  });
  const mirrorProcess = await startMirror(namespace, mirrorRoot, listen, mirrorLog);
  await store.update((s) => {
    if (s.mirror) s.mirror.process = mirrorProcess;
  });
  const registry = await startRegistry(store, namespace, ctx.registryBinary);

  const password = randomBytes(18).toString('base64url');
  const passwordHash = await hashPassword(password);
  const mirrorUrl = `http://${listen}/`;
  const serversReady = waitForTcp(namespace, [listen, registry.listen], { timeoutMs: 10_000 });

  // Each host's sshd is polled from the moment its container starts, so boot times are honest.
  const startedAt = new Map<string, number>();
  const sshAt = new Map<string, number>();
  const sshWatch = watchTcp(namespace, {
    timeoutMs: ctx.bootTimeoutMs,
    banner: 'SSH-',
    onResult: (r) => {
      const host = store.state.hosts.find((h) => `${h.address}:22` === r.target);
      if (!host || !r.ok) return;
      const ms = r.at - (startedAt.get(host.name) ?? r.at);
      sshAt.set(host.name, ms);
      emit({ type: 'host-ssh', host: host.name, address: host.address, ms });
    },
  });
  const hostsStarted = Date.now();
  const limit = pLimit(PREPARE_CONCURRENCY);
  const indexes = Array.from({ length: count }, (_, i) => i + 1);
  try {
    // Only preparing a host takes a slot; finding its init runs while the next is prepared.
    await Promise.all(
      indexes.map(async (index) => {
        const host = await limit(() => createHost(ctx, index, passwordHash));
        startedAt.set(host.name, Date.now());
        sshWatch.add(`${host.address}:22`);
        emit({ type: 'host-started', host: host.name, machine: host.machine, address: host.address });
        await recordLeader(ctx, host);
      }),
    );
  } catch (err) {
    sshWatch.abort();
    throw err;
  }
  const hostsMs = Date.now() - hostsStarted;
  const sshResults = await sshWatch.finish();
  const sshMs = Date.now() - hostsStarted;
  const hosts = store.state.hosts;
  const down = sshResults.filter((r) => !r.ok);
  if (down.length > 0) {
    const which = down.map((r) => hosts.find((h) => `${h.address}:22` === r.target)?.name ?? r.target);
    throw new KprovError('lab', `sshd did not answer within ${ctx.bootTimeoutMs / 1000} s on ${which.join(', ')}`, {
      hint: `see the console logs in ${failedLogsDir(name, ctx.options.env ?? process.env)}`,
    });
  }
  const [mirrorUp, registryUp] = await serversReady;
  if (!mirrorUp?.ok) throw new KprovError('lab', `the artifact mirror did not start on ${listen}: ${await logTail(mirrorLog)}`);
  emit({ type: 'mirror', url: mirrorUrl, root: mirrorRoot });
  if (!registryUp?.ok) throw new KprovError('lab', `the lab registry did not start on ${registry.listen}: ${await logTail(registry.log)}`);
  emit({ type: 'registry', url: registry.url });

  await Promise.all(hosts.map((h) => waitUntilRunning(h, ctx)));

  await initInventory(inventoryDir, { hosts: hosts.map((h) => h.address).join(','), force: true });
  // The inventory asks for exactly what the mirror serves, so it applies as it is.
  const pins = await readReleasePins(mirrorRoot);
  if (pins) await pinInventory(inventoryDir, pins);
  emit({ type: 'release', pins, mirrorRoot });
  const labFile: LabFile = {
    name,
    namespace,
    bridgeAddress: BRIDGE_ADDRESS,
    subnet: `${LAB_SUBNET_PREFIX}.0/${LAB_PREFIX_LENGTH}`,
    mirrorUrl,
    mirrorRoot,
    registryUrl: registry.url,
    hosts: hosts.map((h) => ({ name: h.name, address: h.address, machine: h.machine })),
  };
  await writeLabFiles(inventoryDir, labFile, password);
  emit({ type: 'inventory', dir: inventoryDir });
  await store.update((s) => {
    s.phase = 'ready';
  });

  return {
    name,
    namespace,
    inventoryDir,
    passwordFile: path.join(inventoryDir, BOOTSTRAP_PASSWORD_FILE),
    mirrorUrl,
    mirrorRoot,
    registryUrl: registry.url,
    hosts: hosts.map((h) => ({ name: h.name, address: h.address, machine: h.machine, sshMs: sshAt.get(h.name) ?? 0 })),
    timings: { ...ctx.timings, hostsMs, sshMs, totalMs: Date.now() - ctx.started },
  };
}

/** Creates one host: namespace and link, overlay root, its own identity, then the container. */
async function createHost(ctx: BringUpContext, index: number, passwordHash: string): Promise<HostState> {
  const { store, name, namespace, dir } = ctx;
  const hostDir = path.join(dir, 'hosts', hostName(index));
  const paths = hostRootPaths(hostDir);
  const containerd = containerdDir(hostDir);
  const host: HostState = {
    name: hostName(index),
    index,
    address: hostAddress(index),
    machine: machineName(name, index),
    namespace: hostNamespace(name, index),
    veth: vethName(index),
    dir: hostDir,
    root: paths.root,
    consoleLog: path.join(hostDir, 'console.log'),
    cgroups: hostCgroupDirs(store.state.cgroups, hostName(index)),
    containerdDir: containerd,
  };
  await store.update((s) => {
    s.hosts.push(host);
    s.hosts.sort((a, b) => a.index - b.index);
  });
  for (const cgroup of host.cgroups) await makeCgroup(cgroup);
  await createHostNetwork(namespace, host.namespace, host.veth, host.address);
  await mountHostRoot(ctx.baseImage, paths);
  await personalizeHostRoot(paths.root, {
    hostName: host.name,
    address: host.address,
    passwordHash,
    ...(ctx.options.authorizedKey !== undefined ? { authorizedKey: ctx.options.authorizedKey } : {}),
  });
  await installCgroupRemountUnit(paths.root);
  await mkdir(containerd, { recursive: true, mode: 0o700 });
  const nspawn = await startContainer({
    root: paths.root,
    machine: host.machine,
    hostName: host.name,
    namespace: host.namespace,
    consoleLog: host.consoleLog,
    cgroups: host.cgroups,
    containerdDir: containerd,
  });
  await store.updateHost(host.name, (h) => {
    h.nspawn = nspawn;
  });
  return { ...host, nspawn };
}

/** The container's init (PID 1 inside it): `lab exec` and `lab down` need it. */
async function recordLeader(ctx: BringUpContext, host: HostState): Promise<void> {
  const leader = host.nspawn ? await findLeader(host.nspawn, 10_000) : undefined;
  if (!leader) {
    throw new KprovError('lab', `the container of ${host.name} did not start`, {
      host: host.name,
      hint: `see ${path.join(failedLogsDir(ctx.name, ctx.options.env ?? process.env), `${host.name}.console.log`)}`,
    });
  }
  await ctx.store.updateHost(host.name, (h) => {
    h.leader = leader;
  });
}

async function waitUntilRunning(host: HostState, ctx: BringUpContext): Promise<void> {
  const leader = ctx.store.state.hosts.find((h) => h.name === host.name)?.leader;
  if (!leader) throw new KprovError('internal', `no init process recorded for ${host.name}`);
  const started = Date.now();
  const state = await waitForSystemd(leader.pid, ctx.bootTimeoutMs);
  ctx.emit({ type: 'host-ready', host: host.name, state, ms: Date.now() - started });
  if (state !== 'running') {
    const failed = await failedUnits(leader.pid);
    throw new KprovError('lab', `systemd on ${host.name} is ${state}${failed.length > 0 ? ` (failed: ${failed.join(', ')})` : ''}`, {
      host: host.name,
      hint: `see ${path.join(failedLogsDir(ctx.name, ctx.options.env ?? process.env), `${host.name}.journal.log`)}`,
    });
  }
}
