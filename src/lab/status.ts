/** `kprov lab status`: what each lab's state says, checked against what is actually running. */
import { labNamespace } from './names.js';
import { namespaceExists } from './network.js';
import { isRunning } from './processes.js';
import { registryUrl } from './registry.js';
import { listLabNames, readLabState } from './state.js';

export interface LabHostStatus {
  name: string;
  address: string;
  machine: string;
  namespace: string;
  running: boolean;
  pid?: number;
}

export interface LabStatus {
  name: string;
  /** `ready`, still `creating` (or interrupted while creating), `stopping`, or `broken` (no readable state). */
  phase: 'creating' | 'ready' | 'stopping' | 'broken';
  namespace: string;
  namespaceExists: boolean;
  inventoryDir?: string;
  mirror?: { url: string; root: string; running: boolean; pid?: number };
  registry?: { url: string; storage: string; running: boolean; pid?: number };
  hosts: LabHostStatus[];
  error?: string;
}

export async function labStatus(name: string, env: NodeJS.ProcessEnv = process.env): Promise<LabStatus> {
  const namespace = labNamespace(name);
  let state;
  try {
    state = await readLabState(name, env);
  } catch (err) {
    return { name, phase: 'broken', namespace, namespaceExists: await namespaceExists(namespace), hosts: [], error: err instanceof Error ? err.message : String(err) };
  }
  if (!state) return { name, phase: 'broken', namespace, namespaceExists: await namespaceExists(namespace), hosts: [], error: 'no state.json' };
  const hosts = await Promise.all(
    state.hosts.map(async (h) => ({
      name: h.name,
      address: h.address,
      machine: h.machine,
      namespace: h.namespace,
      running: h.leader !== undefined && (await isRunning(h.leader)),
      ...(h.leader ? { pid: h.leader.pid } : {}),
    })),
  );
  const status: LabStatus = {
    name,
    phase: state.phase,
    namespace: state.namespace,
    namespaceExists: await namespaceExists(state.namespace),
    hosts,
  };
  if (state.inventoryDir !== undefined) status.inventoryDir = state.inventoryDir;
  if (state.mirror) {
    status.mirror = {
      url: `http://${state.mirror.listen}/`,
      root: state.mirror.root,
      running: state.mirror.process !== undefined && (await isRunning(state.mirror.process)),
      ...(state.mirror.process ? { pid: state.mirror.process.pid } : {}),
    };
  }
  if (state.registry) {
    status.registry = {
      url: registryUrl(state.registry.listen),
      storage: state.registry.storage,
      running: state.registry.process !== undefined && (await isRunning(state.registry.process)),
      ...(state.registry.process ? { pid: state.registry.process.pid } : {}),
    };
  }
  return status;
}

export async function allLabStatuses(env: NodeJS.ProcessEnv = process.env): Promise<LabStatus[]> {
  return Promise.all((await listLabNames(env)).map((name) => labStatus(name, env)));
}
