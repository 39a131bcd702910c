/**
 * The lab registry's program: the `docker-registry` binary of Debian's package (CNCF distribution
 * 2.8), fetched with `apt-get download` from the mirrors this machine's apt uses (kprov names no
 * mirror) and unpacked with `dpkg-deb -x`. Cached under the lab cache like the base image, in a
 * directory named by the package version, built in a temporary directory and renamed into place
 * under a lock; nothing is installed on the machine. Like the base image it is fetched once and
 * then reused (asking apt which version it would fetch costs half a second on every `lab up`);
 * deleting the directory fetches the current one.
 */
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../errors.js';
import { withFileLock } from './file-lock.js';
import { cacheRoot } from './paths.js';
import { requireCommands, requireFreeSpace } from './preflight.js';
import { run } from './run.js';

export const REGISTRY_PACKAGE = 'docker-registry';
const BINARY_IN_PACKAGE = 'usr/bin/docker-registry';
const FETCH_TIMEOUT_MS = 5 * 60_000;
/** The .deb is ~10 MB, unpacked ~30 MB. */
const FETCH_SPACE_BYTES = 100 * 1024 * 1024;

export type RegistryBinaryEvent = { type: 'registry-binary'; status: 'cached' | 'fetching' | 'fetched'; path: string; version: string };

export interface RegistryBinaryOptions {
  env?: NodeJS.ProcessEnv;
  onEvent?: (event: RegistryBinaryEvent) => void;
}

/** The `Version:` of the package apt would download (`apt-cache show` reads only local lists). */
export function candidateVersion(aptCacheShow: string): string | undefined {
  return /^Version:\s*(\S+)\s*$/m.exec(aptCacheShow)?.[1];
}

/** A cache directory name for a Debian version (`2.8.2+ds1-1`; an epoch's `:` is not kept). */
export function registryCacheName(version: string): string {
  return `${REGISTRY_PACKAGE}-${version.replace(/[^A-Za-z0-9.+~-]/g, '_')}`;
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined)) !== undefined;
}

/** The cached binary of the newest version fetched so far, if any. */
async function cachedBinary(cache: string): Promise<{ binary: string; version: string } | undefined> {
  const prefix = `${REGISTRY_PACKAGE}-`;
  const dirs = (await readdir(cache).catch(() => [] as string[])).filter((n) => n.startsWith(prefix) && !n.endsWith('.lock'));
  const found: { binary: string; version: string; mtimeMs: number }[] = [];
  for (const d of dirs) {
    const binary = path.join(cache, d, 'docker-registry');
    const info = await stat(binary).catch(() => undefined);
    if (info) found.push({ binary, version: d.slice(prefix.length), mtimeMs: info.mtimeMs });
  }
  found.sort((a, b) => b.mtimeMs - a.mtimeMs);
  return found[0];
}

/** The registry binary's path: the cached one, else fetched and unpacked first. */
export async function ensureRegistryBinary(options: RegistryBinaryOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const cached = await cachedBinary(cacheRoot(env));
  if (cached) {
    options.onEvent?.({ type: 'registry-binary', status: 'cached', path: cached.binary, version: cached.version });
    return cached.binary;
  }
  requireCommands(['apt-cache', 'apt-get', 'dpkg-deb', 'flock'], env);
  const show = await run('apt-cache', ['show', '--no-all-versions', REGISTRY_PACKAGE], { allowFailure: true, env });
  const version = show.code === 0 ? candidateVersion(show.stdout) : undefined;
  if (version === undefined) {
    throw new KprovError('lab', `apt knows no package ${REGISTRY_PACKAGE} (the lab registry's program)`, {
      hint: 'update apt\'s package lists (apt-get update); the package is in Debian bookworm and later',
    });
  }
  const cache = cacheRoot(env);
  const dir = path.join(cache, registryCacheName(version));
  const binary = path.join(dir, 'docker-registry');
  if (await exists(binary)) {
    options.onEvent?.({ type: 'registry-binary', status: 'cached', path: binary, version });
    return binary;
  }
  await mkdir(cache, { recursive: true });
  await requireFreeSpace(cache, FETCH_SPACE_BYTES);
  return withFileLock(`${dir}.lock`, FETCH_TIMEOUT_MS + 60_000, async () => {
    if (await exists(binary)) {
      options.onEvent?.({ type: 'registry-binary', status: 'cached', path: binary, version });
      return binary;
    }
    options.onEvent?.({ type: 'registry-binary', status: 'fetching', path: binary, version });
    // Leftovers of fetchers that were killed (we hold the lock, so nobody else uses them).
    for (const name of await readdir(cache)) {
      if (name.startsWith(`.fetch-${path.basename(dir)}-`)) await rm(path.join(cache, name), { recursive: true, force: true });
    }
    const tmp = await mkdtemp(path.join(cache, `.fetch-${path.basename(dir)}-`));
    try {
      await run('apt-get', ['download', `${REGISTRY_PACKAGE}=${version}`], { cwd: tmp, timeoutMs: FETCH_TIMEOUT_MS, env });
      const deb = (await readdir(tmp)).find((n) => n.endsWith('.deb'));
      if (!deb) throw new KprovError('lab', `apt-get download ${REGISTRY_PACKAGE}=${version} left no .deb`);
      await run('dpkg-deb', ['-x', path.join(tmp, deb), path.join(tmp, 'root')], { env });
      const out = path.join(tmp, 'out');
      await mkdir(out);
      await rename(path.join(tmp, 'root', BINARY_IN_PACKAGE), path.join(out, 'docker-registry'));
      // The program must run here before it is trusted as the lab's registry.
      const reported = await run(path.join(out, 'docker-registry'), ['--version'], { env });
      if (!/\bv?2\.\d+/.test(reported.stdout)) throw new KprovError('lab', `${REGISTRY_PACKAGE} ${version} reports an unexpected version: ${reported.stdout}`);
      await rename(out, dir);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    options.onEvent?.({ type: 'registry-binary', status: 'fetched', path: binary, version });
    return binary;
  });
}
