import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LayerSpec } from '../../../dev/release/layer.js';
import { BASE, buildStore, twoImages } from './image-fixtures.js';

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

test('two images share their base layer: one blob, named by both manifests', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { store, images } = await buildStore(dir);
  const [pause, workload] = images;
  assert.equal(pause!.layers[0]!.digest, workload!.layers[0]!.digest);
  assert.notEqual(pause!.layers[1]!.digest, workload!.layers[1]!.digest);
  // 2 manifests + 2 configs + 1 shared layer + 2 own layers, each once, under its digest.
  const blobs = await readdir(path.join(store.dir, 'blobs/sha256'));
  assert.equal(blobs.length, 7);
  for (const b of blobs) assert.equal(await sha256(path.join(store.dir, 'blobs/sha256', b)), b);
  assert.deepEqual(JSON.parse(await readFile(path.join(store.dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  const manifest = JSON.parse(await readFile(store.blobPath(workload!.manifest.digest), 'utf8')) as { layers: { digest: string }[] };
  assert.deepEqual(manifest.layers.map((l) => l.digest), workload!.layers.map((l) => l.digest));
});

test('same inputs, same digests and the same OCI archive, from scratch; an unchanged layer is not rebuilt', async (t) => {
  const a = await mkdtemp(path.join(tmpdir(), 'kprov-store-a-'));
  const b = await mkdtemp(path.join(tmpdir(), 'kprov-store-b-'));
  t.after(() => Promise.all([rm(a, { recursive: true, force: true }), rm(b, { recursive: true, force: true })]));
  const first = await buildStore(a);
  const second = await buildStore(b);
  assert.deepEqual(second.images, first.images);
  await first.store.archive(path.join(a, 'images.tar'));
  await second.store.archive(path.join(b, 'images.tar'));
  assert.equal(await sha256(path.join(b, 'images.tar')), await sha256(path.join(a, 'images.tar')));

  const baseBlob = first.store.blobPath(first.images[0]!.layers[0]!.digest);
  const before = (await stat(baseBlob)).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  const again = await buildStore(a);
  assert.deepEqual(again.images, first.images);
  assert.equal((await stat(baseBlob)).mtimeMs, before, 'the cached layer was reused');
});

test('writing the index removes blobs no image names any more', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-store-gc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { store, images } = await buildStore(dir);
  const changedBase: LayerSpec = { ...BASE, entries: [...BASE.entries, { path: 'etc/hostname', type: 'file', mode: 0o644, content: 'x\n' }] };
  const rebuilt = await buildStore(dir, twoImages(changedBase));
  assert.notEqual(rebuilt.images[0]!.layers[0]!.digest, images[0]!.layers[0]!.digest);
  await assert.rejects(stat(store.blobPath(images[0]!.layers[0]!.digest)), 'the old base layer is gone');
  assert.equal((await readdir(path.join(store.dir, 'blobs/sha256'))).length, 7);
});
