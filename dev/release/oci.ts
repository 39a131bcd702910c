/**
 * The OCI image format's JSON documents (image-spec v1): image config, manifest, and the image
 * layout's index. Every document is serialised once, with a fixed key order and no timestamps, so
 * the same inputs always give the same bytes and digests.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** containerd's name for an image in a layout's index (`ctr images import` reads it). */
export const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

export const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

export const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA_TYPES.manifest),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});
export type ImageManifest = z.infer<typeof manifestSchema>;

export const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA_TYPES.index).optional(),
  manifests: z.array(descriptorSchema),
});
export type ImageIndex = z.infer<typeof indexSchema>;

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A document's bytes and its descriptor. */
export interface Blob {
  bytes: Buffer;
  descriptor: Descriptor;
}

export function jsonBlob(mediaType: string, document: unknown): Blob {
  const bytes = Buffer.from(JSON.stringify(document));
  return { bytes, descriptor: { mediaType, digest: sha256Digest(bytes), size: bytes.length } };
}

/** A layer as stored: its gzip blob, and the digest of the uncompressed tar (the config's diff_id). */
export interface LayerRef {
  digest: string;
  size: number;
  diffId: string;
  /** One line for the image's history: where the layer's content comes from. */
  createdBy: string;
}

/** What runs, as Docker's and OCI's config describe it. */
export interface RunConfig {
  entrypoint?: readonly string[];
  cmd?: readonly string[];
  env?: readonly string[];
  workingDir?: string;
  exposedPorts?: readonly string[];
}

/** The image config (no `created`, no timestamps in the history: they would change every build). */
export function imageConfig(layers: readonly LayerRef[], run: RunConfig): Blob {
  const config: Record<string, unknown> = {};
  if (run.env) config['Env'] = [...run.env];
  if (run.entrypoint) config['Entrypoint'] = [...run.entrypoint];
  if (run.cmd) config['Cmd'] = [...run.cmd];
  config['WorkingDir'] = run.workingDir ?? '/';
  if (run.exposedPorts) config['ExposedPorts'] = Object.fromEntries([...run.exposedPorts].sort().map((p) => [p, {}]));
  return jsonBlob(MEDIA_TYPES.config, {
    architecture: 'amd64',
    os: 'linux',
    config,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created_by: l.createdBy })),
  });
}

export function imageManifest(config: Descriptor, layers: readonly LayerRef[]): Blob {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.layerGzip, digest: l.digest, size: l.size })),
  };
  return jsonBlob(MEDIA_TYPES.manifest, manifest);
}

/** The layout's index.json: one entry per image, sorted by name, named the way containerd imports them. */
export function layoutIndex(images: readonly { name: string; manifest: Descriptor }[]): Blob {
  const manifests = [...images]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((i) => ({
      mediaType: MEDIA_TYPES.manifest,
      digest: i.manifest.digest,
      size: i.manifest.size,
      annotations: { [IMAGE_NAME_ANNOTATION]: i.name, [REF_NAME_ANNOTATION]: parseReference(i.name).tag },
    }));
  return jsonBlob(MEDIA_TYPES.index, { schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests });
}

export interface Reference {
  /** docker.io, k8s.gcr.io, registry.local:5000 */
  registry: string;
  /** The path within the registry: `pause`, `library/busybox`, `kprov/workload`. */
  repository: string;
  tag: string;
}

/**
 * A fully qualified image reference with a tag (`k8s.gcr.io/pause:3.1`,
 * `docker.io/library/busybox:1.29`): what images are called here, so nothing depends on
 * Docker's short-name rules.
 */
export function parseReference(name: string): Reference {
  const m = /^([a-z0-9.-]+(?::\d+)?)\/([a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(name);
  if (!m || !/[.:]/.test(m[1]!)) throw new Error(`${name} is not a full image reference such as k8s.gcr.io/pause:3.1`);
  return { registry: m[1]!, repository: m[2]!, tag: m[3]! };
}
