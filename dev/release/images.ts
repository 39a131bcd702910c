/**
 * The container images the lab serves from its registry, built from Debian packages into one OCI
 * image layout (plus the same as an OCI archive):
 *
 * | image | layers | runs |
 * |---|---|---|
 * | `k8s.gcr.io/pause:3.1` (the v1.13 sandbox image) | busybox, pause | `/pause`: sleeps until SIGTERM |
 * | `docker.io/kprov/workload:1` | busybox, resolver, workload | `/serve`: HTTP on $PORT (8080) with busybox httpd; a shell, ping, wget, nslookup, and glibc's `getent hosts` |
 * | `docker.io/coredns/coredns:1.2.6` (Kubespray v2.9's coredns_image_repo:tag) | node runtime, coredns | `/coredns`: the DNS stand-in (dev/standin/coredns), run by the runtime layer's node |
 *
 * The busybox layer (Debian's busybox-static and its applet links) is one blob both images name.
 * The node runtime layer (this machine's /usr/bin/node and the shared libraries `ldd` lists, at
 * the paths it lists) is one blob that later Node images (e.g. control-plane static pods) share.
 * Nothing pretends to be what it is not: the workload is kprov's own image, and the pause image
 * is a stand-in for the sandbox image kubelet v1.13 asks containerd for.
 *
 *   node dist/dev/release/images.js --out DIR [--cache-dir DIR] [--archive FILE]
 */
import { Command } from 'commander';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { bundleFile, corednsEntry } from './bundle.js';
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
/** Kubespray v2.9 (Kubernetes v1.13): coredns_image_repo docker.io/coredns/coredns, coredns_image_tag 1.2.6. */
export const COREDNS_IMAGE = 'docker.io/coredns/coredns:1.2.6';
/** The Node the runtime layer is made from. */
export const NODE_BINARY = '/usr/bin/node';

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

/** `ldd` output → the absolute paths of the loader and the libraries (the vDSO has none). */
export function lddPaths(output: string): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]!);
  }
  return [...new Set(out)].sort();
}

/** A Node runtime as one layer: /usr/bin/node and its shared libraries, each at the path ldd names (files, links resolved). */
export async function nodeRuntimeLayer(node = NODE_BINARY): Promise<LayerSpec> {
  const version = (await execa(node, ['--version'])).stdout.trim();
  const libs = lddPaths((await execa('ldd', [node])).stdout);
  const entries: LayerEntry[] = [{ path: 'usr/bin/node', type: 'file', mode: 0o755, from: await realpath(node) }];
  for (const lib of libs) entries.push({ path: lib.slice(1), type: 'file', mode: 0o755, from: await realpath(lib) });
  entries.push({ path: 'tmp', type: 'dir', mode: 0o1777 }, ...['etc', 'dev', 'proc', 'sys'].map((p): LayerEntry => ({ path: p, type: 'dir' })));
  return { createdBy: `kprov: Node ${version} runtime (${node} and the ${libs.length} libraries ldd lists)`, entries };
}

/**
 * glibc's resolver for the workload image: this machine's `getent` and the libraries ldd lists
 * (glibc 2.34+ has its dns and files NSS modules inside libc.so.6), with an nsswitch.conf. Pods
 * then resolve names as applications do, through resolv.conf's search path (`getent hosts
 * nginx-app.default`); busybox's own nslookup asks for the name as written, and its static wget
 * cannot resolve at all.
 */
export async function resolverLayer(getent = '/usr/bin/getent'): Promise<LayerSpec> {
  const libs = lddPaths((await execa('ldd', [getent])).stdout);
  const entries: LayerEntry[] = [{ path: 'usr/bin/getent', type: 'file', mode: 0o755, from: await realpath(getent) }];
  for (const lib of libs) entries.push({ path: lib.slice(1), type: 'file', mode: 0o755, from: await realpath(lib) });
  entries.push({ path: 'etc/nsswitch.conf', type: 'file', mode: 0o644, content: 'hosts: files dns\n' });
  return { createdBy: `kprov: glibc's resolver (${getent} and the ${libs.length} libraries ldd lists)`, entries };
}

/** The DNS stand-in, bundled into one file, as the image's program layer. */
export async function corednsLayer(workDir: string): Promise<LayerSpec> {
  const file = path.join(workDir, 'coredns');
  await bundleFile(corednsEntry(), file, 'v1.13.0');
  return { createdBy: 'kprov: /coredns, the CoreDNS 1.2.6 stand-in (dev/standin/coredns)', entries: [{ path: 'coredns', type: 'file', mode: 0o755, from: file }] };
}

export function labImageSpecs(busybox: LayerSpec, node?: LayerSpec, coredns?: LayerSpec, resolver?: LayerSpec): ImageSpec[] {
  const dns: ImageSpec[] =
    node && coredns
      ? [
          {
            name: COREDNS_IMAGE,
            layers: [node, coredns],
            // As the upstream image: ENTRYPOINT ["/coredns"]; Kubespray adds args -conf /etc/coredns/Corefile.
            run: { entrypoint: ['/usr/bin/node', '/coredns'], env: [PATH_ENV], exposedPorts: ['53/tcp', '53/udp'] },
          },
        ]
      : [];
  return [
    {
      name: PAUSE_IMAGE,
      layers: [busybox, { createdBy: 'kprov: /pause', entries: [{ path: 'pause', type: 'file', mode: 0o755, content: PAUSE_SCRIPT }] }],
      run: { entrypoint: ['/pause'], env: [PATH_ENV] },
    },
    {
      name: WORKLOAD_IMAGE,
      layers: [busybox, ...(resolver ? [resolver] : []), { createdBy: 'kprov: /serve', entries: [{ path: 'serve', type: 'file', mode: 0o755, content: SERVE_SCRIPT }] }],
      run: { cmd: ['/serve'], env: [PATH_ENV, `PORT=${WORKLOAD_PORT}`], exposedPorts: [`${WORKLOAD_PORT}/tcp`] },
    },
    ...dns,
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
  const work = await mkdtemp(path.join(tmpdir(), 'kprov-images-'));
  const images: BuiltImage[] = [];
  try {
    const specs = labImageSpecs(busybox, await nodeRuntimeLayer(), await corednsLayer(work), await resolverLayer());
    for (const spec of specs) images.push(await store.image(spec));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
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
