import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IMAGE_NAME_ANNOTATION, imageConfig, imageManifest, layoutIndex, MEDIA_TYPES, parseReference, sha256Digest, type LayerRef } from '../../../dev/release/oci.js';

const layers: LayerRef[] = [
  { digest: `sha256:${'a'.repeat(64)}`, size: 1000, diffId: `sha256:${'b'.repeat(64)}`, createdBy: 'base' },
  { digest: `sha256:${'c'.repeat(64)}`, size: 10, diffId: `sha256:${'d'.repeat(64)}`, createdBy: 'app' },
];

test('the image config: rootfs diff_ids in layer order, the run settings, and no timestamps anywhere', () => {
  const config = imageConfig(layers, { entrypoint: ['/pause'], env: ['PATH=/bin'], exposedPorts: ['8080/tcp'] });
  const doc = JSON.parse(config.bytes.toString()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc), ['architecture', 'os', 'config', 'rootfs', 'history']);
  assert.deepEqual(doc['rootfs'], { type: 'layers', diff_ids: layers.map((l) => l.diffId) });
  assert.deepEqual(doc['config'], { Env: ['PATH=/bin'], Entrypoint: ['/pause'], WorkingDir: '/', ExposedPorts: { '8080/tcp': {} } });
  assert.deepEqual(doc['history'], [{ created_by: 'base' }, { created_by: 'app' }]);
  assert.doesNotMatch(config.bytes.toString(), /created"|\d{4}-\d\d-\d\dT/);
  assert.equal(config.descriptor.digest, sha256Digest(config.bytes));
  assert.equal(config.descriptor.mediaType, MEDIA_TYPES.config);
  // Same inputs, same bytes, wherever and whenever it is built: the digest is a fixed value.
  assert.equal(config.descriptor.digest, 'sha256:1b26fde6ef516286e85310d0fc6a5accc133b88fc5a0d1d714109da7cd42d59c');
});

test('the manifest names the config and each layer by digest, with OCI media types', () => {
  const config = imageConfig(layers, { cmd: ['/serve'] });
  const manifest = imageManifest(config.descriptor, layers);
  assert.deepEqual(JSON.parse(manifest.bytes.toString()), {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: config.descriptor.digest, size: config.descriptor.size },
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.layerGzip, digest: l.digest, size: l.size })),
  });
  assert.equal(manifest.descriptor.size, manifest.bytes.length);
});

test("the layout index: images sorted by name, named as containerd's import reads them", () => {
  const m = (c: string) => ({ mediaType: MEDIA_TYPES.manifest, digest: `sha256:${c.repeat(64)}`, size: 5 });
  const index = JSON.parse(layoutIndex([{ name: 'k8s.gcr.io/pause:3.1', manifest: m('1') }, { name: 'docker.io/kprov/workload:1', manifest: m('2') }]).bytes.toString()) as {
    manifests: { annotations: Record<string, string> }[];
  };
  assert.deepEqual(index.manifests.map((x) => x.annotations), [
    { [IMAGE_NAME_ANNOTATION]: 'docker.io/kprov/workload:1', 'org.opencontainers.image.ref.name': '1' },
    { [IMAGE_NAME_ANNOTATION]: 'k8s.gcr.io/pause:3.1', 'org.opencontainers.image.ref.name': '3.1' },
  ]);
});

test('image references: registry, repository path and tag; short names are refused', () => {
  assert.deepEqual(parseReference('k8s.gcr.io/pause:3.1'), { registry: 'k8s.gcr.io', repository: 'pause', tag: '3.1' });
  assert.deepEqual(parseReference('docker.io/library/busybox:1.29'), { registry: 'docker.io', repository: 'library/busybox', tag: '1.29' });
  assert.deepEqual(parseReference('registry.local:5000/team/app:v2'), { registry: 'registry.local:5000', repository: 'team/app', tag: 'v2' });
  for (const bad of ['busybox:1.29', 'kprov/workload:1', 'k8s.gcr.io/pause', 'k8s.gcr.io/Pause:3.1']) assert.throws(() => parseReference(bad), /full image reference/, bad);
});
