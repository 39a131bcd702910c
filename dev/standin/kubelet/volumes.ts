/**
 * Pod volumes as a v1.13 kubelet sets them up before the containers start, under
 * `<root-dir>/pods/<uid>/volumes/<plugin>/<volume>`:
 *   - `secret` and `configMap` (kubernetes.io~secret, kubernetes.io~configmap): the object read from
 *     the API with the node's credentials, its keys (or `items` with their paths and modes) written
 *     with `defaultMode` (0644) the way the atomic writer lays them out (`..<timestamp>/` holding the
 *     files, `..data` → it, each top-level name → `..data/<name>`), mounted read-only. Written once
 *     per pod: later changes of the object are not followed. The service-account token volume the
 *     ServiceAccount admission plugin adds is such a secret volume.
 *   - `emptyDir` (kubernetes.io~empty-dir): an empty 0777 directory on the node's disk (medium
 *     Memory too: no tmpfs).
 *   - `hostPath`: the node's path, checked or created by its `type`.
 * A missing object (not `optional`) keeps the pod's containers waiting (ContainerCreating), retried
 * at the pod worker's pace. Volumes go with the pod.
 */
import { chmod, mkdir, rm, stat, symlink, writeFile, rename, open } from 'node:fs/promises';
import path from 'node:path';
import { ApiError, type ApiClient } from '../common/client.js';
import type { ContainerSpec, Pod, VolumeSpec } from './pod-spec.js';

export interface CriMount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
}

export class VolumeError extends Error {}

interface KeyToPath {
  key: string;
  path: string;
  mode?: number | undefined;
}

/** The files of a secret or config map volume: relative path → content and mode (pure). */
export function projectKeys(
  what: string,
  data: Map<string, Buffer>,
  items: readonly KeyToPath[] | undefined,
  defaultMode: number | undefined,
  optional: boolean,
): Array<{ path: string; content: Buffer; mode: number }> {
  const mode = defaultMode ?? 0o644;
  if (!items || items.length === 0) return [...data.keys()].sort().map((k) => ({ path: k, content: data.get(k)!, mode }));
  const out: Array<{ path: string; content: Buffer; mode: number }> = [];
  for (const it of items) {
    const content = data.get(it.key);
    if (content === undefined) {
      if (optional) continue;
      throw new VolumeError(`${what} references non-existent config key: ${it.key}`);
    }
    const normal = path.posix.normalize(it.path);
    if (normal.startsWith('..') || path.posix.isAbsolute(normal)) throw new VolumeError(`${what}: item path ${it.path} must be relative and may not contain '..'`);
    out.push({ path: normal, content, mode: it.mode ?? mode });
  }
  return out;
}

function kubeTimestamp(d: Date): string {
  // The atomic writer's directory name: ..2006_01_02_15_04_05.<random>
  const p = (n: number) => String(n).padStart(2, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.${Math.floor(Math.random() * 1e9)}`;
}

/** Writes the files as v1.13's AtomicWriter lays them out. */
export async function writeAtomicDir(dir: string, files: ReadonlyArray<{ path: string; content: Buffer; mode: number }>): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const ts = kubeTimestamp(new Date());
  const tsDir = path.join(dir, ts);
  await mkdir(tsDir, { mode: 0o755 });
  for (const f of files) {
    const file = path.join(tsDir, f.path);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
    await writeFile(file, f.content);
    await chmod(file, f.mode);
  }
  await chmod(tsDir, 0o755);
  const tmpLink = path.join(dir, '..data_tmp');
  await rm(tmpLink, { force: true });
  await symlink(ts, tmpLink);
  await rename(tmpLink, path.join(dir, '..data'));
  for (const top of new Set(files.map((f) => f.path.split('/')[0]!))) {
    await rm(path.join(dir, top), { force: true, recursive: true });
    await symlink(path.join('..data', top), path.join(dir, top));
  }
}

function decodeData(obj: { data?: unknown; binaryData?: unknown }, base64: boolean): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const put = (src: unknown, b64: boolean) => {
    if (typeof src !== 'object' || src === null) return;
    for (const [k, v] of Object.entries(src)) if (typeof v === 'string') out.set(k, b64 ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8'));
  };
  put(obj.data, base64);
  put(obj.binaryData, true);
  return out;
}

export class VolumeManager {
  /** Pods whose volumes are set up (uid → volume name → host path). */
  private readonly ready = new Map<string, Map<string, string>>();

  constructor(
    private readonly rootDir: string,
    private readonly client: ApiClient | undefined,
  ) {}

  podDir(uid: string): string {
    return path.join(this.rootDir, 'pods', uid);
  }

  /** Sets up every volume of the pod once; throws VolumeError with the reason while one cannot be. */
  async setUp(pod: Pod): Promise<Map<string, string>> {
    const done = this.ready.get(pod.uid);
    if (done) return done;
    const out = new Map<string, string>();
    for (const v of pod.volumes) out.set(v.name, await this.setUpOne(pod, v));
    this.ready.set(pod.uid, out);
    return out;
  }

  private async fetch(kind: 'secrets' | 'configmaps', ns: string, name: string): Promise<Record<string, unknown> | undefined> {
    if (!this.client) throw new VolumeError(`cannot read ${kind} "${name}": the kubelet has no API server`);
    try {
      return (await this.client.call('GET', `/api/v1/namespaces/${ns}/${kind}/${name}`)) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw new VolumeError(`${kind === 'secrets' ? 'secret' : 'configmap'} "${name}": ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async setUpOne(pod: Pod, v: VolumeSpec): Promise<string> {
    const base = path.join(this.podDir(pod.uid), 'volumes');
    if (v.secret || v.configMap) {
      const isSecret = v.secret !== undefined;
      const src = (v.secret ?? v.configMap)!;
      const name = (isSecret ? v.secret!.secretName : v.configMap!.name) ?? '';
      const dir = path.join(base, isSecret ? 'kubernetes.io~secret' : 'kubernetes.io~configmap', v.name);
      const obj = await this.fetch(isSecret ? 'secrets' : 'configmaps', pod.namespace, name);
      const what = `${isSecret ? 'secret' : 'configmap'} "${name}"`;
      if (!obj && !src.optional) throw new VolumeError(`MountVolume.SetUp failed for volume "${v.name}" : ${what} not found`);
      const files = projectKeys(what, obj ? decodeData(obj, isSecret) : new Map(), src.items, src.defaultMode, src.optional === true);
      await writeAtomicDir(dir, files);
      return dir;
    }
    if (v.emptyDir) {
      const dir = path.join(base, 'kubernetes.io~empty-dir', v.name);
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o777);
      return dir;
    }
    if (v.hostPath) return this.hostPath(v.name, v.hostPath.path, v.hostPath.type ?? '');
    throw new VolumeError(`volume "${v.name}": the stand-in kubelet supports secret, configMap, emptyDir and hostPath volumes only`);
  }

  private async hostPath(name: string, p: string, type: string): Promise<string> {
    const st = await stat(p).catch(() => undefined);
    const fail = (what: string) => new VolumeError(`MountVolume.SetUp failed for volume "${name}" : hostPath type check failed: ${p} is not a ${what}`);
    if (type === 'DirectoryOrCreate' && !st) await mkdir(p, { recursive: true, mode: 0o755 });
    else if (type === 'FileOrCreate' && !st) {
      await mkdir(path.dirname(p), { recursive: true });
      await (await open(p, 'a', 0o644)).close();
    } else if (type === 'Directory' && !st?.isDirectory()) throw fail('directory');
    else if (type === 'File' && !st?.isFile()) throw fail('file');
    else if (type === 'Socket' && !st?.isSocket()) throw fail('socket');
    return p;
  }

  /** The CRI mounts of a container: its volumeMounts, secret and config map volumes read-only. */
  mountsFor(pod: Pod, c: ContainerSpec, hostPaths: Map<string, string>): CriMount[] {
    const byName = new Map(pod.volumes.map((v) => [v.name, v]));
    return (c.volumeMounts ?? []).map((m) => {
      const host = hostPaths.get(m.name);
      const v = byName.get(m.name);
      if (!host || !v) throw new VolumeError(`cannot find volume "${m.name}" to mount into container "${c.name}"`);
      const apiData = v.secret !== undefined || v.configMap !== undefined;
      return { containerPath: m.mountPath, hostPath: m.subPath ? path.join(host, m.subPath) : host, readonly: apiData || m.readOnly === true };
    });
  }

  /** Removes the pod's directory (its volumes; hostPath volumes are the node's and stay). */
  async tearDown(uid: string): Promise<void> {
    this.ready.delete(uid);
    await rm(this.podDir(uid), { recursive: true, force: true });
  }
}
