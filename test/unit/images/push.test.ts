import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pushLayout } from '../../../dev/release/push.js';
import { MEDIA_TYPES } from '../../../dev/release/oci.js';
import { buildStore } from './image-fixtures.js';

/** Just enough of the distribution API to see what a client does, verifying every byte it sends. */
class FakeRegistry {
  readonly blobs = new Map<string, Set<string>>();
  readonly manifests = new Map<string, { type: string; digest: string }>();
  readonly log: string[] = [];
  #uploads = 0;
  readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => this.#handle(req, res, Buffer.concat(chunks)));
  });

  #handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://registry');
    this.log.push(`${req.method} ${url.pathname}${url.search}`);
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    const uploads = /^\/v2\/(.+)\/blobs\/uploads\/$/.exec(url.pathname);
    const upload = /^\/v2\/(.+)\/blobs\/uploads\/([0-9]+)$/.exec(url.pathname);
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    const has = (repo: string, digest: string) => this.blobs.get(repo)?.has(digest) ?? false;
    const add = (repo: string, digest: string) => this.blobs.set(repo, new Set([...(this.blobs.get(repo) ?? []), digest]));
    if (req.method === 'HEAD' && blob) return void res.writeHead(has(blob[1]!, blob[2]!) ? 200 : 404).end();
    if (req.method === 'POST' && uploads) {
      const mount = url.searchParams.get('mount');
      const from = url.searchParams.get('from');
      if (mount && from && has(from, mount)) {
        add(uploads[1]!, mount);
        return void res.writeHead(201, { Location: `/v2/${uploads[1]}/blobs/${mount}` }).end();
      }
      return void res.writeHead(202, { Location: `/v2/${uploads[1]}/blobs/uploads/${++this.#uploads}?_state=x` }).end();
    }
    if (req.method === 'PUT' && upload) {
      const digest = url.searchParams.get('digest')!;
      assert.equal(url.searchParams.get('_state'), 'x', 'the upload URL keeps its own query');
      if (`sha256:${createHash('sha256').update(body).digest('hex')}` !== digest) return void res.writeHead(400).end('DIGEST_INVALID');
      add(upload[1]!, digest);
      return void res.writeHead(201).end();
    }
    if (req.method === 'PUT' && manifest) {
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      this.manifests.set(`${manifest[1]}:${manifest[2]}`, { type: String(req.headers['content-type']), digest });
      return void res.writeHead(201, { 'Docker-Content-Digest': digest }).end();
    }
    res.writeHead(405).end();
  }
}

let registry: FakeRegistry;
let url: string;
before(async () => {
  registry = new FakeRegistry();
  await new Promise<void>((resolve) => registry.server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(registry.server.address() as AddressInfo).port}`;
});
after(async () => {
  registry.server.closeAllConnections();
  await new Promise((resolve) => registry.server.close(resolve));
});

test('push: blobs uploaded by POST then PUT ?digest=, a shared layer mounted rather than sent twice, manifests with their media type', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-push-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { store, images } = await buildStore(dir);
  const pushed = await pushLayout(store.dir, url);
  // Sorted by name in the index: the workload first, then pause, whose base layer is mounted.
  assert.deepEqual(pushed.map((p) => p.target), ['kprov/workload:1', 'pause:3.1']);
  assert.deepEqual(pushed.map((p) => p.blobs.map((b) => b.how)), [['uploaded', 'uploaded', 'uploaded'], ['uploaded', 'mounted', 'uploaded']]);
  const base = images[0]!.layers[0]!.digest;
  assert.ok(registry.log.includes(`POST /v2/pause/blobs/uploads/?mount=${encodeURIComponent(base)}&from=${encodeURIComponent('kprov/workload')}`), registry.log.join('\n'));
  assert.equal(registry.log.filter((l) => l.startsWith('PUT') && l.includes(`digest=${encodeURIComponent(base)}`)).length, 1, 'the shared layer crossed once');
  for (const image of images) {
    const ref = image.name === 'k8s.gcr.io/pause:3.1' ? 'pause:3.1' : 'kprov/workload:1';
    assert.deepEqual(registry.manifests.get(ref), { type: MEDIA_TYPES.manifest, digest: image.manifest.digest });
  }

  // A second push finds everything there: HEADs and the manifests only.
  registry.log.length = 0;
  const again = await pushLayout(store.dir, url, ['k8s.gcr.io/pause:3.1']);
  assert.deepEqual(again.map((p) => p.blobs.map((b) => b.how)), [['present', 'present', 'present']]);
  assert.deepEqual(registry.log.map((l) => l.split(' ')[0]), ['HEAD', 'HEAD', 'HEAD', 'PUT']);
  await assert.rejects(pushLayout(store.dir, url, ['docker.io/library/nginx:1']), /has no image docker\.io\/library\/nginx:1/);
  await assert.rejects(pushLayout(store.dir, 'https://127.0.0.1:1'), /only plain-http registries/);
});
