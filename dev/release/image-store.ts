/**
 * Images as an OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`): every
 * blob is stored once under its digest, so a layer two images share is one file both manifests
 * name. Layers are cached by what they are made of (layer.ts `layerKey`), so an unchanged layer
 * is not rebuilt; blobs no image refers to are removed when the index is written.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { KprovError } from '../../src/errors.js';
import { tarGz } from './archive.js';
import { buildLayer, layerKey, LAYER_MTIME, type LayerSpec } from './layer.js';
import { imageConfig, imageManifest, layoutIndex, type Blob, type Descriptor, type LayerRef, type RunConfig } from './oci.js';

const OCI_LAYOUT = `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}`;

const cachedLayerSchema = z.object({ digest: z.string(), size: z.number(), diffId: z.string() });

export interface ImageSpec {
  /** Full reference: k8s.gcr.io/pause:3.1 */
  name: string;
  layers: readonly LayerSpec[];
  run: RunConfig;
}

export interface BuiltImage {
  name: string;
  manifest: Descriptor;
  config: Descriptor;
  layers: LayerRef[];
}

export class ImageStore {
  /**
   * @param dir the layout directory
   * @param keysDir where layer keys map to blobs (outside the layout, which holds only OCI files)
   */
  constructor(
    readonly dir: string,
    private readonly keysDir: string,
  ) {}

  blobPath(digest: string): string {
    const [algo, hex] = digest.split(':');
    return path.join(this.dir, 'blobs', algo!, hex!);
  }

  async has(digest: string): Promise<boolean> {
    return (await stat(this.blobPath(digest)).catch(() => undefined)) !== undefined;
  }

  async putBlob(blob: Blob): Promise<Descriptor> {
    if (!(await this.has(blob.descriptor.digest))) await this.#place(this.blobPath(blob.descriptor.digest), blob.bytes);
    return blob.descriptor;
  }

  async #place(file: string, bytes: Buffer | string): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.tmp-${process.pid}`, bytes);
    await rename(`${file}.tmp-${process.pid}`, file);
  }

  /** The layer's blob, built unless a layer made of the same things is stored already. */
  async layer(spec: LayerSpec): Promise<LayerRef> {
    const key = await layerKey(spec);
    const keyFile = path.join(this.keysDir, `${key}.json`);
    const cached = cachedLayerSchema.safeParse(await readFile(keyFile, 'utf8').then(JSON.parse, () => undefined));
    if (cached.success && (await this.has(cached.data.digest))) return { ...cached.data, createdBy: spec.createdBy };
    // Built beside the keys, not in the layout: a killed build leaves nothing an archive would take.
    const tmp = path.join(this.keysDir, `.layer-${process.pid}-${key.slice(0, 12)}`);
    await mkdir(this.keysDir, { recursive: true });
    try {
      const built = await buildLayer(spec, path.join(this.keysDir, 'staging'), tmp);
      await mkdir(path.dirname(this.blobPath(built.digest)), { recursive: true });
      await rename(tmp, this.blobPath(built.digest));
      await writeFile(keyFile, JSON.stringify(built));
      return { ...built, createdBy: spec.createdBy };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async image(spec: ImageSpec): Promise<BuiltImage> {
    const layers: LayerRef[] = [];
    for (const l of spec.layers) layers.push(await this.layer(l));
    const config = await this.putBlob(imageConfig(layers, spec.run));
    const manifest = await this.putBlob(imageManifest(config, layers));
    return { name: spec.name, manifest, config, layers };
  }

  /** Writes oci-layout and index.json for exactly these images, and removes every other blob. */
  async writeIndex(images: readonly BuiltImage[]): Promise<Descriptor> {
    const names = new Set<string>();
    for (const i of images) {
      if (names.has(i.name)) throw new KprovError('internal', `image ${i.name} is built twice`);
      names.add(i.name);
    }
    await this.#place(path.join(this.dir, 'oci-layout'), OCI_LAYOUT);
    const index = layoutIndex(images.map((i) => ({ name: i.name, manifest: i.manifest })));
    await this.#place(path.join(this.dir, 'index.json'), index.bytes);
    const keep = new Set(images.flatMap((i) => [i.manifest.digest, i.config.digest, ...i.layers.map((l) => l.digest)]).map((d) => this.blobPath(d)));
    const blobDir = path.join(this.dir, 'blobs', 'sha256');
    for (const name of await readdir(blobDir).catch(() => [] as string[])) {
      if (!keep.has(path.join(blobDir, name))) await rm(path.join(blobDir, name), { force: true });
    }
    return index.descriptor;
  }

  /** The whole layout as one reproducible tar (an OCI archive: `ctr images import` takes it as it is). */
  async archive(outFile: string): Promise<void> {
    // Not gzipped: the blobs are compressed already. Modes as a umask of 022 makes them, whatever ours is.
    await tarGz(this.dir, ['blobs', 'index.json', 'oci-layout'], outFile, LAYER_MTIME, false, { mode: 'go=rX,u=rwX' });
  }
}
