/**
 * A lab whose mirror serves the stand-in v1.13 release, with an inventory pinned to the versions
 * in that release — what `kprov apply cluster` needs end to end on this machine.
 *
 *   const lab = await startClusterLab({ name: 'e2e-cluster', hosts: 5 });
 *   try { await lab.kprov(['apply', 'cluster', '-i', lab.inventoryDir]); } finally { await lab.stop(); }
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { withFileLock } from '../src/lab/file-lock.js';
import { buildStandinRelease, type ReleaseManifest } from './release/build.js';
import { DEFAULT_CACHE_DIR } from './release/debs.js';
import { startLab, type RunningLab, type StartLabOptions } from './lab-hosts.js';

export const KUBE_VERSION = 'v1.13.5';

/** The release tree every cluster lab serves; built once per machine, rebuilt when its inputs change. */
export const RELEASE_DIR = path.join(process.env['KPROV_LAB_CACHE'] ?? DEFAULT_CACHE_DIR, `release-${KUBE_VERSION}`);

let building: Promise<ReleaseManifest> | undefined;

/** Builds (or reuses) the stand-in release; concurrent test files wait on one builder. */
export function ensureStandinRelease(): Promise<ReleaseManifest> {
  building ??= (async () => {
    await mkdir(path.dirname(RELEASE_DIR), { recursive: true });
    return withFileLock(`${RELEASE_DIR}.lock`, 600_000, () => buildStandinRelease({ outDir: RELEASE_DIR, kubeVersion: KUBE_VERSION }));
  })();
  return building;
}

/** Every artifact pinned to the version the release really contains. */
export function releasePins(manifest: ReleaseManifest): Record<string, string> {
  const version = (name: string) => {
    const a = manifest.artifacts.find((x) => x.name === name);
    if (!a) throw new Error(`the stand-in release has no ${name}`);
    return a.version;
  };
  return {
    kube_version: manifest.kubeVersion,
    kubectl_version: version('kubectl'),
    etcd_version: version('etcd'),
    containerd_version: version('containerd').replace(/^v/, ''),
    runc_version: version('runc'),
    cni_version: version('cni'),
  };
}

/**
 * Sets variables the way a user would: edits the line where the inventory's group_vars already
 * set it (the sample sets versions per group), else adds it to group_vars/all/release.yml.
 */
export async function pinVariables(inventoryDir: string, pins: Record<string, string>): Promise<void> {
  const remaining = new Map(Object.entries(pins));
  const files = (await readdir(path.join(inventoryDir, 'group_vars'), { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const edited = text.replace(/^([a-z_]+):.*$/gm, (line, key: string) => {
      const value = pins[key];
      if (value === undefined) return line;
      remaining.delete(key);
      return `${key}: ${value}`;
    });
    if (edited !== text) await writeFile(file, edited);
  }
  if (remaining.size > 0) {
    const lines = [...remaining].map(([k, v]) => `${k}: ${v}`);
    await writeFile(path.join(inventoryDir, 'group_vars', 'all', 'release.yml'), `${lines.join('\n')}\n`);
  }
}

export interface ClusterLab extends RunningLab {
  release: ReleaseManifest;
}

export async function startClusterLab(options: Omit<StartLabOptions, 'mirrorRoot'>): Promise<ClusterLab> {
  const release = await ensureStandinRelease();
  const lab = await startLab({ ...options, mirrorRoot: RELEASE_DIR });
  try {
    await pinVariables(lab.inventoryDir, releasePins(release));
  } catch (err) {
    await lab.stop();
    throw err;
  }
  return Object.assign(lab, { release });
}
