/**
 * The container images the lab serves from its registry, built from Debian packages into one OCI
 * image layout (plus the same as an OCI archive):
 *
 * | image | layers | runs |
 * |---|---|---|
 * | `k8s.gcr.io/pause:3.1` (the v1.13 sandbox image) | busybox, pause | `/pause`: sleeps until SIGTERM |
 * | `docker.io/kprov/workload:1` | busybox, workload | `/serve`: HTTP on $PORT (8080) with busybox httpd; a shell, ping, wget, nslookup |
 *
 * The busybox layer (Debian's busybox-static and its applet links) is one blob both images name.
 * Nothing pretends to be what it is not: the workload is kprov's own image, and the pause image
 * is a stand-in for the sandbox image kubelet v1.13 asks containerd for.
 *
 *   node dist/dev/release/images.js --out DIR [--cache-dir DIR] [--archive FILE]
 */
import { Command } from 'commander';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatError, isKprovError } from '../../src/errors.js';
import { DEFAULT_CACHE_DIR, debPackage, type DebPackage } from './debs.js';
import { ImageStore, type BuiltImage, type ImageSpec } from './image-store.js';
import type { LayerEntry, LayerSpec } from './layer.js';

export const PAUSE_IMAGE = 'k8s.gcr.io/pause:3.1';
export const WORKLOAD_IMAGE = 'docker.io/kprov/workload:1';
export const WORKLOAD_PORT = 8080;

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** busybox as a small Unix: its applets linked where `busybox --list-full` says, a root and a nobody. */
export async function busyboxLayer(busybox: DebPackage): Promise<LayerSpec> {
  const binary = path.join(busybox.root, 'bin', 'busybox');
  const applets = (await execa(binary, ['--list-full'])).stdout.split('\n').filter((p) => p !== '' && p !== 'bin/busybox');
  const entries: LayerEntry[] = [
    { path: 'bin/busybox', type: 'file', mode: 0o755, from: binary },
    ...applets.map((p): LayerEntry => ({ path: p, type: 'symlink', target: '/bin/busybox' })),
    { path: 'etc/passwd', type: 'file', mode: 0o644, content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { path: 'etc/group', type: 'file', mode: 0o644, content: 'root:x:0:\nnogroup:x:65534:\n' },
    { path: 'root', type: 'dir', mode: 0o700 },
    { path: 'tmp', type: 'dir', mode: 0o1777 },
    ...['dev', 'proc', 'sys', 'var'].map((p): LayerEntry => ({ path: p, type: 'dir' })),
  ];
  return { createdBy: `Debian busybox-static ${busybox.debVersion}: /bin/busybox and its applet links`, entries };
}

/** The pod sandbox: holds the pod's namespaces and does nothing until it is told to stop. */
export const PAUSE_SCRIPT = `#!/bin/sh
# kprov's stand-in for the pod sandbox image: sleep until SIGTERM (or SIGINT), then exit 0.
trap 'exit 0' TERM INT
while :; do sleep 86400 & wait $!; done
`;

/** Answers HTTP with the pod's host name (and serves whatever else is put in /tmp/www). */
export const SERVE_SCRIPT = `#!/bin/sh
# kprov's lab workload: GET / answers with this container's host name (the pod's name).
mkdir -p /tmp/www
hostname > /tmp/www/index.html
exec httpd -f -v -p "\${PORT:-${WORKLOAD_PORT}}" -h /tmp/www
`;

export function labImageSpecs(busybox: LayerSpec): ImageSpec[] {
  return [
    {
      name: PAUSE_IMAGE,
      layers: [busybox, { createdBy: 'kprov: /pause', entries: [{ path: 'pause', type: 'file', mode: 0o755, content: PAUSE_SCRIPT }] }],
      run: { entrypoint: ['/pause'], env: [PATH_ENV] },
    },
    {
      name: WORKLOAD_IMAGE,
      layers: [busybox, { createdBy: 'kprov: /serve', entries: [{ path: 'serve', type: 'file', mode: 0o755, content: SERVE_SCRIPT }] }],
      run: { cmd: ['/serve'], env: [PATH_ENV, `PORT=${WORKLOAD_PORT}`], exposedPorts: [`${WORKLOAD_PORT}/tcp`] },
    },
  ];
}

export interface LabImagesOptions {
  /** The OCI image layout to write. */
  outDir: string;
  /** Debian packages and the layer cache; outside the repository. */
  cacheDir?: string;
  /** Also write the layout as an OCI archive (one tar). */
  archive?: string;
}

export interface LabImages {
  layout: string;
  archive?: string;
  images: BuiltImage[];
}

export async function buildLabImages(opts: LabImagesOptions): Promise<LabImages> {
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
  const store = new ImageStore(path.resolve(opts.outDir), path.join(cacheDir, 'image-layers'));
  const busybox = await busyboxLayer(await debPackage(cacheDir, 'busybox-static'));
  const images: BuiltImage[] = [];
  for (const spec of labImageSpecs(busybox)) images.push(await store.image(spec));
  await store.writeIndex(images);
  if (opts.archive) await store.archive(path.resolve(opts.archive));
  return { layout: store.dir, ...(opts.archive ? { archive: path.resolve(opts.archive) } : {}), images };
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('build-lab-images')
    .description('Build the lab registry images (pause, workload) as an OCI image layout')
    .requiredOption('--out <dir>', 'OCI image layout directory to write')
    .option('--cache-dir <dir>', 'where Debian packages and built layers are kept', DEFAULT_CACHE_DIR)
    .option('--archive <file>', 'also write the layout as one OCI archive (tar)')
    .parse(argv);
  const o = program.opts<{ out: string; cacheDir: string; archive?: string }>();
  const built = await buildLabImages({ outDir: o.out, cacheDir: o.cacheDir, ...(o.archive ? { archive: o.archive } : {}) });
  process.stdout.write(`${JSON.stringify(built, null, 2)}\n`);
}

if (process.argv[1] && existsSync(process.argv[1]) && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).catch((err: unknown) => {
    process.stderr.write(`${isKprovError(err) ? formatError(err) : `error: ${err instanceof Error ? err.message : String(err)}`}\n`);
    process.exit(1);
  });
}
