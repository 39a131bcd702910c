/**
 * The container images the lab serves from its registry, built from Debian packages into one OCI
 * image layout (plus the same as an OCI archive):
 *
 * | image | layers | runs |
 * |---|---|---|
 * | `k8s.gcr.io/pause:3.1` (the v1.13 sandbox image) | busybox, pause | `/pause`: sleeps until SIGTERM |
 * | `docker.io/kprov/workload:1` | busybox, resolver, workload | `/serve`: HTTP on $PORT (8080) with busybox httpd; a shell, ping, wget, nslookup, and glibc's `getent hosts` |
 * | `docker.io/coredns/coredns:1.2.6` (Kubespray v2.9's coredns_image_repo:tag) | node runtime, coredns | `/coredns`: the DNS stand-in (dev/standin/coredns), run by the runtime layer's node |
 * | `docker.io/kprov/nginx:debian12` (the lab's `nginx_image_repo:tag`) | busybox, nginx | Debian's nginx with its stream module: the node-local API proxy |
 * | `docker.io/kprov/haproxy:debian12` (the lab's `haproxy_image_repo:tag`) | busybox, haproxy | Debian's haproxy: the node-local API proxy with `loadbalancer_apiserver_type: haproxy` |
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
/** Debian 12's nginx, the lab's image for the node-local API proxy (kprov's own name: it is not the upstream image). */
export const NGINX_IMAGE = 'docker.io/kprov/nginx:debian12';
/** Debian 12's haproxy, for loadbalancer_apiserver_type: haproxy in the lab. */
export const HAPROXY_IMAGE = 'docker.io/kprov/haproxy:debian12';
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

/**
 * A program from Debian packages with the shared libraries ldd lists: those from `libraries`
 * (unpacked packages this machine does not have installed) at their Debian paths, the rest
 * from this machine, each at the path ldd names.
 */
export async function programEntries(files: { path: string; from: string; mode: number }[], libraries: readonly DebPackage[]): Promise<LayerEntry[]> {
  const libRoots = libraries.map((p) => p.root);
  const env = { LD_LIBRARY_PATH: libRoots.map((r) => path.join(r, 'usr', 'lib', 'x86_64-linux-gnu')).join(':') };
  const outputs = await Promise.all(files.filter((f) => f.mode === 0o755 || f.path.endsWith('.so')).map(async (f) => (await execa('ldd', [f.from], { env })).stdout));
  const missing = outputs.join('\n').split('\n').filter((l) => l.includes('not found'));
  if (missing.length > 0) throw new Error(`libraries not found for the image: ${missing.map((l) => l.trim()).join('; ')}`);
  const entries: LayerEntry[] = files.map((f) => ({ path: f.path, type: 'file', mode: f.mode, from: f.from }));
  for (const lib of lddPaths(outputs.join('\n'))) {
    const root = libRoots.find((r) => lib.startsWith(`${r}/`));
    entries.push({ path: (root ? lib.slice(root.length) : lib).slice(1), type: 'file', mode: 0o755, from: await realpath(lib) });
  }
  return entries;
}

/**
 * Debian's nginx as an image: the binary, its stream module (Debian builds it as a dynamic module;
 * the upstream image has it built in, so the image loads it on the command line and a Kubespray
 * nginx.conf works unchanged), the libraries ldd lists, and the directories its compiled-in paths need.
 */
export async function nginxLayer(nginx: DebPackage, streamModule: DebPackage): Promise<LayerSpec> {
  const entries = await programEntries(
    [
      { path: 'usr/sbin/nginx', from: path.join(nginx.root, 'usr', 'sbin', 'nginx'), mode: 0o755 },
      { path: NGINX_STREAM_MODULE.slice(1), from: path.join(streamModule.root, NGINX_STREAM_MODULE), mode: 0o644 },
    ],
    [],
  );
  entries.push(...['etc/nginx', 'run', 'var/lib/nginx', 'var/log/nginx'].map((p): LayerEntry => ({ path: p, type: 'dir' })));
  return { createdBy: `Debian nginx ${nginx.debVersion} and libnginx-mod-stream: /usr/sbin/nginx, the stream module and the libraries ldd lists`, entries };
}

/** Debian's haproxy as an image: the binary and the libraries ldd lists (lua and opentracing from their packages). */
export async function haproxyLayer(haproxy: DebPackage, libraries: readonly DebPackage[]): Promise<LayerSpec> {
  const entries = await programEntries([{ path: 'usr/sbin/haproxy', from: path.join(haproxy.root, 'usr', 'sbin', 'haproxy'), mode: 0o755 }], libraries);
  entries.push(...['usr/local/etc/haproxy', 'run', 'var/lib/haproxy'].map((p): LayerEntry => ({ path: p, type: 'dir' })));
  return { createdBy: `Debian haproxy ${haproxy.debVersion}: /usr/sbin/haproxy and the libraries ldd lists`, entries };
}

/** Debian packages haproxy's libraries come from (not installed on a plain Debian machine). */
export const HAPROXY_LIBRARY_PACKAGES = ['liblua5.3-0', 'libopentracing-c-wrapper0', 'libopentracing1'] as const;

const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** The DNS stand-in, bundled into one file, as the image's program layer. */
export async function corednsLayer(workDir: string): Promise<LayerSpec> {
  const file = path.join(workDir, 'coredns');
  await bundleFile(corednsEntry(), file, 'v1.13.0');
  return { createdBy: 'kprov: /coredns, the CoreDNS 1.2.6 stand-in (dev/standin/coredns)', entries: [{ path: 'coredns', type: 'file', mode: 0o755, from: file }] };
}

export function labImageSpecs(busybox: LayerSpec, node?: LayerSpec, coredns?: LayerSpec, resolver?: LayerSpec, proxies?: { nginx: LayerSpec; haproxy: LayerSpec }): ImageSpec[] {
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
    ...(proxies
      ? [
          {
            name: NGINX_IMAGE,
            layers: [busybox, proxies.nginx],
            // As the upstream image's command (nginx -g 'daemon off;'), plus the stream module.
            run: { cmd: ['/usr/sbin/nginx', '-g', `load_module ${NGINX_STREAM_MODULE}; daemon off;`], env: [PATH_ENV] },
          },
          {
            name: HAPROXY_IMAGE,
            layers: [busybox, proxies.haproxy],
            // As the upstream image: the configuration from /usr/local/etc/haproxy, in the foreground.
            run: { cmd: ['/usr/sbin/haproxy', '-W', '-db', '-f', '/usr/local/etc/haproxy/haproxy.cfg'], env: [PATH_ENV] },
          },
        ]
      : []),
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
    const proxies = {
      nginx: await nginxLayer(await debPackage(cacheDir, 'nginx'), await debPackage(cacheDir, 'libnginx-mod-stream')),
      haproxy: await haproxyLayer(await debPackage(cacheDir, 'haproxy'), await Promise.all(HAPROXY_LIBRARY_PACKAGES.map((p) => debPackage(cacheDir, p)))),
    };
    const specs = labImageSpecs(busybox, await nodeRuntimeLayer(), await corednsLayer(work), await resolverLayer(), proxies);
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
