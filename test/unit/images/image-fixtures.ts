/** Two small images sharing a base layer, for the image builder's and the push client's tests. */
import path from 'node:path';
import { ImageStore, type ImageSpec } from '../../../dev/release/image-store.js';
import type { LayerSpec } from '../../../dev/release/layer.js';

export const BASE: LayerSpec = {
  createdBy: 'a shared base',
  entries: [
    { path: 'bin/sh', type: 'file', mode: 0o755, content: '#!/bin/true\n' },
    { path: 'etc/passwd', type: 'file', mode: 0o644, content: 'root:x:0:0:root:/root:/bin/sh\n' },
  ],
};

export function twoImages(base: LayerSpec = BASE): ImageSpec[] {
  return [
    { name: 'k8s.gcr.io/pause:3.1', layers: [base, { createdBy: 'pause', entries: [{ path: 'pause', type: 'file', mode: 0o755, content: 'sleep\n' }] }], run: { entrypoint: ['/pause'] } },
    { name: 'docker.io/kprov/workload:1', layers: [base, { createdBy: 'serve', entries: [{ path: 'serve', type: 'file', mode: 0o755, content: 'serve\n' }] }], run: { cmd: ['/serve'] } },
  ];
}

export async function buildStore(dir: string, specs: ImageSpec[] = twoImages()) {
  const store = new ImageStore(path.join(dir, 'layout'), path.join(dir, 'keys'));
  const images = [];
  for (const s of specs) images.push(await store.image(s));
  await store.writeIndex(images);
  return { store, images };
}

