/**
 * The lab's container images: built once per machine into the lab cache (dev/release/images.ts),
 * rebuilt when their inputs change, and pushed into a running lab's registry by the TypeScript
 * push client, run inside the lab namespace (the registry listens there only).
 *
 *   const lab = await startClusterLab({ name: 'e2e-pods', hosts: 2 });
 *   await pushLabImages(lab);   // k8s.gcr.io/pause:3.1 → pause:3.1, docker.io/kprov/workload:1 → kprov/workload:1
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withFileLock } from '../src/lab/file-lock.js';
import { DEFAULT_CACHE_DIR } from './release/debs.js';
import { buildLabImages, type LabImages } from './release/images.js';
import { buildControlPlaneImages } from './release/control-plane-images.js';
import type { ReleaseManifest } from './release/build.js';
import type { PushedImage } from './release/push.js';
import type { RunningLab } from './lab-hosts.js';

const CACHE_DIR = process.env['KPROV_LAB_CACHE'] ?? DEFAULT_CACHE_DIR;
/** The OCI image layout every lab pushes from, and the same as one OCI archive. */
export const LAB_IMAGES_DIR = path.join(CACHE_DIR, 'lab-images');
export const LAB_IMAGES_ARCHIVE = path.join(CACHE_DIR, 'lab-images.oci.tar');

const pushScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'release', 'push.js');

let building: Promise<LabImages> | undefined;

/** Builds (or reuses) the lab images; concurrent callers wait on one builder. */
export function ensureLabImages(): Promise<LabImages> {
  building ??= (async () => {
    await mkdir(CACHE_DIR, { recursive: true });
    return withFileLock(`${LAB_IMAGES_DIR}.lock`, 600_000, () => buildLabImages({ outDir: LAB_IMAGES_DIR, cacheDir: CACHE_DIR, archive: LAB_IMAGES_ARCHIVE }));
  })();
  return building;
}

/** Pushes the lab images into the lab's registry (from inside the lab namespace); blobs it has are skipped. */
export async function pushLabImages(lab: Pick<RunningLab, 'inLab' | 'registryUrl'>, images?: LabImages): Promise<PushedImage[]> {
  const built = images ?? (await ensureLabImages());
  const r = await lab.inLab([process.execPath, pushScript, '--layout', built.layout, '--registry', lab.registryUrl], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`pushing the lab images failed (exit ${r.code}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as PushedImage[];
}

const controlPlaneBuilds = new Map<string, Promise<LabImages>>();

/** The static-pod control plane's images of a stand-in release (release/control-plane-images.ts), built once per version. */
export function ensureControlPlaneImages(release: ReleaseManifest, releaseDir: string): Promise<LabImages> {
  let built = controlPlaneBuilds.get(release.kubeVersion);
  if (!built) {
    const outDir = path.join(CACHE_DIR, `control-plane-images-${release.kubeVersion}`);
    built = withFileLock(`${outDir}.lock`, 600_000, () => buildControlPlaneImages({ release, releaseDir, outDir, cacheDir: CACHE_DIR }));
    controlPlaneBuilds.set(release.kubeVersion, built);
  }
  return built;
}
