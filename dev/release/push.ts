/**
 * Pushes the images of an OCI image layout to a registry over the OCI distribution API, as
 * `docker push` does, with nothing but Node's http client:
 *
 * - each blob (config, layers): `HEAD /v2/<repo>/blobs/<digest>` and nothing more when the registry
 *   has it; a blob pushed to another repository in this run is mounted
 *   (`POST …/blobs/uploads/?mount=<digest>&from=<repo>`, so a shared layer crosses the wire once);
 *   otherwise `POST /v2/<repo>/blobs/uploads/` then `PUT <Location>?digest=<digest>` with the bytes;
 * - then the manifest: `PUT /v2/<repo>/manifests/<tag>` with its media type.
 *
 * An image `k8s.gcr.io/pause:3.1` is pushed as `pause:3.1`: the path alone, which is what
 * containerd asks a registry mirror for. It runs wherever the registry is reachable; the lab's
 * registry only inside the lab namespace (dev/lab-images.ts runs it there).
 *
 *   node dist/dev/release/push.js --layout DIR --registry http://10.213.0.1:5000 [--image NAME]…
 */
import { Command } from 'commander';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_NAME_ANNOTATION, indexSchema, manifestSchema, parseReference, type Descriptor } from './oci.js';

export interface PushedImage {
  name: string;
  /** Where it is in the registry: pause:3.1 */
  target: string;
  digest: string;
  /** Per blob: already there, mounted from another repository, or uploaded. */
  blobs: { digest: string; how: 'present' | 'mounted' | 'uploaded' }[];
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const TIMEOUT_MS = 60_000;

function request(url: URL, method: string, headers: http.OutgoingHttpHeaders = {}, body?: Buffer | string | { file: string; size: number }): Promise<Reply> {
  if (url.protocol !== 'http:') return Promise.reject(new Error(`only plain-http registries are pushed to here: ${url.href}`));
  return new Promise((resolve, reject) => {
    const length = body === undefined ? 0 : typeof body === 'object' && 'file' in body ? body.size : Buffer.byteLength(body);
    const req = http.request(url, { method, headers: { ...headers, 'Content-Length': length }, timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.href} timed out`)));
    req.on('error', reject);
    if (body !== undefined && typeof body === 'object' && 'file' in body) createReadStream(body.file).on('error', reject).pipe(req);
    else req.end(body);
  });
}

function expect(reply: Reply, statuses: readonly number[], what: string): Reply {
  if (!statuses.includes(reply.status)) throw new Error(`${what}: HTTP ${reply.status} ${reply.body.trim().slice(0, 300)}`);
  return reply;
}

/** The upload URL a 202 names, resolved against the registry (distribution answers a path). */
function uploadUrl(reply: Reply, base: URL, digest: string): URL {
  const location = reply.headers.location;
  if (!location) throw new Error('the registry started an upload without a Location');
  const url = new URL(location, base);
  url.searchParams.set('digest', digest);
  return url;
}

export class RegistryPusher {
  readonly #base: URL;
  /** Blobs this pusher has put into some repository: digest → repository. */
  readonly #where = new Map<string, string>();

  constructor(registryUrl: string) {
    this.#base = new URL(registryUrl);
  }

  #url(p: string): URL {
    return new URL(p, this.#base);
  }

  async pushBlob(repo: string, blob: Descriptor, file: string): Promise<'present' | 'mounted' | 'uploaded'> {
    const head = await request(this.#url(`/v2/${repo}/blobs/${blob.digest}`), 'HEAD');
    if (head.status === 200) {
      this.#where.set(blob.digest, repo);
      return 'present';
    }
    expect(head, [404], `HEAD ${repo} blob ${blob.digest}`);
    const from = this.#where.get(blob.digest);
    let started: Reply;
    if (from !== undefined) {
      const mount = this.#url(`/v2/${repo}/blobs/uploads/`);
      mount.searchParams.set('mount', blob.digest);
      mount.searchParams.set('from', from);
      started = expect(await request(mount, 'POST'), [201, 202], `mount ${blob.digest} from ${from} into ${repo}`);
      if (started.status === 201) {
        this.#where.set(blob.digest, repo);
        return 'mounted';
      }
    } else {
      started = expect(await request(this.#url(`/v2/${repo}/blobs/uploads/`), 'POST'), [202], `start an upload to ${repo}`);
    }
    const put = await request(uploadUrl(started, this.#base, blob.digest), 'PUT', { 'Content-Type': 'application/octet-stream' }, { file, size: blob.size });
    expect(put, [201], `upload ${blob.digest} to ${repo}`);
    this.#where.set(blob.digest, repo);
    return 'uploaded';
  }

  async pushManifest(repo: string, tag: string, mediaType: string, bytes: Buffer, digest: string): Promise<void> {
    const put = expect(await request(this.#url(`/v2/${repo}/manifests/${tag}`), 'PUT', { 'Content-Type': mediaType }, bytes), [201], `put manifest ${repo}:${tag}`);
    const stored = put.headers['docker-content-digest'];
    if (stored !== undefined && stored !== digest) throw new Error(`the registry stored ${repo}:${tag} as ${String(stored)}, not ${digest}`);
  }
}

function blobFile(layout: string, digest: string): string {
  const [algo, hex] = digest.split(':');
  return path.join(layout, 'blobs', algo!, hex!);
}

/** Pushes every image of the layout (or those named) to `registryUrl`; blobs already there are skipped. */
export async function pushLayout(layout: string, registryUrl: string, only?: readonly string[]): Promise<PushedImage[]> {
  const index = indexSchema.parse(JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')));
  const entries = index.manifests.map((m) => ({ name: m.annotations?.[IMAGE_NAME_ANNOTATION], descriptor: m }));
  const unnamed = entries.find((e) => e.name === undefined);
  if (unnamed) throw new Error(`${layout}: manifest ${unnamed.descriptor.digest} has no ${IMAGE_NAME_ANNOTATION} annotation`);
  const missing = (only ?? []).filter((n) => !entries.some((e) => e.name === n));
  if (missing.length > 0) throw new Error(`${layout} has no image ${missing.join(', ')}`);
  const pusher = new RegistryPusher(registryUrl);
  const pushed: PushedImage[] = [];
  for (const { name, descriptor } of entries) {
    if (only && !only.includes(name!)) continue;
    const ref = parseReference(name!);
    const bytes = await readFile(blobFile(layout, descriptor.digest));
    const manifest = manifestSchema.parse(JSON.parse(bytes.toString('utf8')));
    const blobs: PushedImage['blobs'] = [];
    for (const blob of [manifest.config, ...manifest.layers]) {
      const file = blobFile(layout, blob.digest);
      if ((await stat(file)).size !== blob.size) throw new Error(`${file} is not ${blob.size} bytes long as its manifest says`);
      blobs.push({ digest: blob.digest, how: await pusher.pushBlob(ref.repository, blob, file) });
    }
    await pusher.pushManifest(ref.repository, ref.tag, manifest.mediaType, bytes, descriptor.digest);
    pushed.push({ name: name!, target: `${ref.repository}:${ref.tag}`, digest: descriptor.digest, blobs });
  }
  return pushed;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('push-images')
    .description('Push the images of an OCI image layout to a plain-http registry (OCI distribution API)')
    .requiredOption('--layout <dir>', 'OCI image layout directory')
    .requiredOption('--registry <url>', 'registry base URL, e.g. http://10.213.0.1:5000')
    .option('--image <name...>', 'only these images (full references)')
    .parse(argv);
  const o = program.opts<{ layout: string; registry: string; image?: string[] }>();
  const pushed = await pushLayout(o.layout, o.registry, o.image);
  process.stdout.write(`${JSON.stringify(pushed)}\n`);
}

if (process.argv[1] && existsSync(process.argv[1]) && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).catch((err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
