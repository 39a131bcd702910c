/**
 * A lab's record of everything it created: state.json in the lab's directory, rewritten (atomically)
 * *before* each namespace, link, mount or process is made, so `lab down` can undo a lab that was
 * interrupted half-way.
 */
import { readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { KprovError } from '../errors.js';
import { readJsonFile } from './json-file.js';
import { labDir, labsDir } from './paths.js';

const processRefSchema = z.object({ pid: z.number().int().positive(), startTime: z.string() });

const hostStateSchema = z.object({
  name: z.string(),
  index: z.number().int().positive(),
  address: z.string(),
  machine: z.string(),
  namespace: z.string(),
  /** The bridge-side veth, in the lab namespace. */
  veth: z.string(),
  dir: z.string(),
  /** The overlay mount point the container boots from. */
  root: z.string(),
  nspawn: processRefSchema.optional(),
  /** The container's init (PID 1 inside it). */
  leader: processRefSchema.optional(),
  consoleLog: z.string(),
  /** The host's own cgroup directories (removed by `lab down`). */
  cgroups: z.array(z.string()).default([]),
  /** containerd's state directory on the machine's disk, bound at /var/lib/containerd in the host. */
  containerdDir: z.string().optional(),
});

const labStateSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  createdAt: z.string(),
  phase: z.enum(['creating', 'ready', 'stopping']),
  namespace: z.string(),
  bridge: z.object({ name: z.string(), address: z.string(), prefixLength: z.number().int() }),
  baseImage: z.string().optional(),
  inventoryDir: z.string().optional(),
  /** The lab's cgroup directory in each hierarchy (its hosts' are below; removed by `lab down`). */
  cgroups: z.array(z.string()).default([]),
  mirror: z
    .object({ root: z.string(), listen: z.string(), log: z.string(), process: processRefSchema.optional() })
    .optional(),
  /** The image registry: its storage and config are in the lab's directory. */
  registry: z
    .object({ listen: z.string(), storage: z.string(), config: z.string(), log: z.string(), process: processRefSchema.optional() })
    .optional(),
  hosts: z.array(hostStateSchema),
});

export type HostState = z.infer<typeof hostStateSchema>;
export type LabState = z.infer<typeof labStateSchema>;

export function stateFile(dir: string): string {
  return path.join(dir, 'state.json');
}

export function readLabState(name: string, env: NodeJS.ProcessEnv = process.env): Promise<LabState | undefined> {
  return readJsonFile(stateFile(labDir(name, env)), labStateSchema, { code: 'lab', what: 'lab state', mismatch: 'lab state does not match its schema' });
}

/** Names of every lab that has a directory (complete, half-made or half-removed). */
export async function listLabNames(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  return (await readdir(labsDir(env)).catch(() => [] as string[])).sort();
}

/** Serialises updates from hosts created in parallel; each update is on disk before it resolves. */
export class LabStateStore {
  #state: LabState;
  #queue: Promise<void> = Promise.resolve();
  readonly dir: string;

  constructor(dir: string, initial: LabState) {
    this.dir = dir;
    this.#state = initial;
  }

  get state(): LabState {
    return this.#state;
  }

  update(change: (state: LabState) => void): Promise<void> {
    const next = this.#queue.then(async () => {
      change(this.#state);
      await writeStateFile(this.dir, this.#state);
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  updateHost(name: string, change: (host: HostState) => void): Promise<void> {
    return this.update((state) => {
      const host = state.hosts.find((h) => h.name === name);
      if (!host) throw new KprovError('internal', `lab state has no host ${name}`);
      change(host);
    });
  }
}

export async function writeStateFile(dir: string, state: LabState): Promise<void> {
  const file = stateFile(dir);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}
