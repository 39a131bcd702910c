/**
 * Real binaries from Debian packages: `apt-get download` into a cache outside the repository (one
 * file per package, reused while present), `dpkg -x` once per .deb, and the true upstream version
 * read from the package's version string.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../../src/errors.js';

export const DEFAULT_CACHE_DIR = '/var/cache/kprov-lab';

export interface DebPackage {
  name: string;
  file: string;
  /** The Debian version, e.g. `1.20.5+really1.20.2-1.1+deb12u1`. */
  debVersion: string;
  /** The upstream release it packages, e.g. `1.20.2`. */
  upstreamVersion: string;
  /** Where `dpkg -x` unpacked it. */
  root: string;
}

/**
 * The upstream version inside a Debian version: no epoch, no Debian revision, no repack suffix
 * (`~ds1`, `+ds1`, `+dfsg`), and for `X+reallyY` the Y that is really inside.
 */
export function upstreamVersionOf(debVersion: string): string {
  let v = debVersion.replace(/^\d+:/, '');
  const dash = v.lastIndexOf('-');
  if (dash > 0) v = v.slice(0, dash);
  const really = v.indexOf('+really');
  if (really >= 0) v = v.slice(really + '+really'.length);
  return v.replace(/[~+](ds|dfsg|repack)\d*.*$/, '');
}

let aptUpdated = false;

async function findCachedDeb(dir: string, pkg: string, version?: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  // apt-get names files PKG_VERSION_ARCH.deb, with an epoch's ':' written as %3a.
  const prefix = version === undefined ? `${pkg}_` : `${pkg}_${version.replace(':', '%3a')}_`;
  const matches = names.filter((n) => n.startsWith(prefix) && n.endsWith('.deb'));
  if (matches.length === 0) return undefined;
  // Several versions cached: the newest download wins.
  const withTimes = await Promise.all(matches.map(async (n) => ({ n, t: (await stat(path.join(dir, n))).mtimeMs })));
  withTimes.sort((a, b) => b.t - a.t);
  return path.join(dir, withTimes[0]!.n);
}

/** The cached .deb of `pkg` (at `version`, else the candidate), downloading it with apt-get when absent. */
export async function fetchDeb(cacheDir: string, pkg: string, version?: string): Promise<string> {
  const debDir = path.join(cacheDir, 'debs');
  const cached = await findCachedDeb(debDir, pkg, version);
  const spec = version === undefined ? pkg : `${pkg}=${version}`;
  if (cached) return cached;
  await mkdir(debDir, { recursive: true });
  // Download into a private directory, then rename: concurrent callers never see a partial file.
  const tmp = await mkdtemp(path.join(debDir, '.download-'));
  try {
    let result = await execa('apt-get', ['download', spec], { cwd: tmp, reject: false, all: true });
    if (result.exitCode !== 0 && !aptUpdated) {
      aptUpdated = true;
      await execa('apt-get', ['update'], { reject: false });
      result = await execa('apt-get', ['download', spec], { cwd: tmp, reject: false, all: true });
    }
    if (result.exitCode !== 0) throw new KprovError('lab', `apt-get download ${spec} failed: ${String(result.all ?? '').trim().split('\n').slice(-2).join(' ')}`, { hint: 'the Debian mirror in the apt sources must be reachable' });
    const file = (await readdir(tmp)).find((n) => n.endsWith('.deb'));
    if (!file) throw new KprovError('lab', `apt-get download ${spec} produced no .deb`);
    await rename(path.join(tmp, file), path.join(debDir, file));
    return path.join(debDir, file);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Fetches and unpacks `pkg` (once per .deb file) and reads its versions. */
export async function debPackage(cacheDir: string, pkg: string, version?: string): Promise<DebPackage> {
  const file = await fetchDeb(cacheDir, pkg, version);
  const debVersion = (await execa('dpkg-deb', ['-f', file, 'Version'])).stdout.trim();
  const root = path.join(cacheDir, 'extract', path.basename(file, '.deb'));
  if (!existsSync(path.join(root, '.complete'))) {
    await mkdir(path.dirname(root), { recursive: true });
    const tmp = await mkdtemp(`${root}.tmp-`);
    try {
      await execa('dpkg', ['-x', file, tmp]);
      await writeFile(path.join(tmp, '.complete'), '');
      // Another process may have finished the same extraction meanwhile (and may be running its
      // binaries): keep theirs. Otherwise move ours into place in one rename.
      if (!existsSync(path.join(root, '.complete'))) {
        await rename(tmp, root).catch((err: unknown) => {
          if (!existsSync(path.join(root, '.complete'))) throw err;
        });
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return { name: pkg, file, debVersion, upstreamVersion: upstreamVersionOf(debVersion), root };
}

/** kubectl from Debian's kubernetes-client package (v1.20.2), unpacked into the cache. */
export async function realKubectl(cacheDir = DEFAULT_CACHE_DIR): Promise<string> {
  const pkg = await debPackage(cacheDir, 'kubernetes-client');
  return path.join(pkg.root, 'usr', 'bin', 'kubectl');
}
