/**
 * A lab whose mirror serves the stand-in v1.13 release, with an inventory pinned to the versions
 * in that release — what `kprov apply cluster` needs end to end on this machine.
 *
 *   const lab = await startClusterLab({ name: 'e2e-cluster', hosts: 5 });
 *   try { await lab.kprov(['apply', 'cluster', '-i', lab.inventoryDir]); } finally { await lab.stop(); }
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { withFileLock } from '../src/lab/file-lock.js';
import { buildStandinRelease, type ReleaseManifest } from './release/build.js';
export { kubeVersionPins } from './release/build.js';
import { pinInventory } from '../src/lab/release-pins.js';
import { DEFAULT_CACHE_DIR } from './release/debs.js';
import { startLab, type RunningLab, type StartLabOptions } from './lab-hosts.js';
import { ensureControlPlaneImages, ensureLabImages, pushLabImages } from './lab-images.js';

export const KUBE_VERSION = 'v1.13.5';
/** The next patch version, served next to KUBE_VERSION so that upgrades can be tried (kubeVersionPins). */
export const UPGRADE_KUBE_VERSION = 'v1.13.6';

/** The release tree every cluster lab serves; built once per machine, rebuilt when its inputs change. */
export const RELEASE_DIR = path.join(process.env['KPROV_LAB_CACHE'] ?? DEFAULT_CACHE_DIR, `release-${KUBE_VERSION}`);

let building: Promise<ReleaseManifest> | undefined;

/** Builds (or reuses) the stand-in release; concurrent test files wait on one builder. */
export function ensureStandinRelease(): Promise<ReleaseManifest> {
  building ??= (async () => {
    await mkdir(path.dirname(RELEASE_DIR), { recursive: true });
    return withFileLock(`${RELEASE_DIR}.lock`, 600_000, () => buildStandinRelease({ outDir: RELEASE_DIR, kubeVersion: KUBE_VERSION, alsoKubeVersions: [UPGRADE_KUBE_VERSION] }));
  })();
  return building;
}

export interface ClusterLab extends RunningLab {
  release: ReleaseManifest;
}

/** lab up pins the inventory to the release the mirror serves (its kprov-release.json); the lab images are pushed to its registry. */
export async function startClusterLab(options: Omit<StartLabOptions, 'mirrorRoot'> & { pushImages?: boolean }): Promise<ClusterLab> {
  const { pushImages = true, ...labOptions } = options;
  const [release, images] = await Promise.all([ensureStandinRelease(), pushImages ? ensureLabImages() : undefined]);
  const lab = await startLab({ ...labOptions, mirrorRoot: RELEASE_DIR });
  try {
    // A cluster lab runs pods: the sandbox and workload images are in its registry from the start.
    if (images) {
      await pushLabImages(lab, images);
      // The control plane's images too, for static-pod mode (their Node layer is already there).
      await pushLabImages(lab, await ensureControlPlaneImages(release, RELEASE_DIR));
    }
  } catch (err) {
    await lab.stop();
    throw err;
  }
  return Object.assign(lab, { release });
}

/** Sets inventory variables as a user would (on the line that sets them, else group_vars/all/release.yml). */
export const pinVariables = pinInventory;
