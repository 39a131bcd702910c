/**
 * What `kubectl get -f - -o json --ignore-not-found` printed for an add-on's objects: which of
 * them exist, the hash annotation each carries, and the Deployments' availability. Checked once
 * at the edge so the rest trusts the shape.
 */
import { z } from 'zod';
import { KprovError } from '../../errors.js';
import { MANIFEST_HASH_ANNOTATION, objectKey } from './addon-manifests.js';

const object = z.looseObject({
  kind: z.string(),
  metadata: z.looseObject({ name: z.string(), namespace: z.string().nullish(), annotations: z.record(z.string(), z.string()).nullish() }),
  spec: z.looseObject({ replicas: z.number().nullish() }).nullish(),
  status: z.looseObject({ availableReplicas: z.number().nullish(), replicas: z.number().nullish() }).nullish(),
});

const list = z.looseObject({ items: z.array(object) });

export interface LiveObject {
  /** The manifest hash kprov wrote, undefined when the object was made some other way. */
  sha256: string | undefined;
  /** Deployments: replicas wanted and available. */
  replicas?: { wanted: number; available: number };
}

/** Live objects by objectKey(); empty output (nothing found) is an empty map. */
export function parseLiveObjects(stdout: string): Map<string, LiveObject> {
  const live = new Map<string, LiveObject>();
  if (stdout.trim() === '') return live;
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    throw new KprovError('host', `kubectl get printed no JSON: ${stdout.trim().slice(0, 200)}`);
  }
  // kubectl prints a List for several objects and the object itself for one.
  const parsed = typeof raw === 'object' && raw !== null && 'items' in raw ? list.safeParse(raw) : object.transform((o) => ({ items: [o] })).safeParse(raw);
  if (!parsed.success) throw new KprovError('host', `kubectl get printed unexpected objects: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const items = parsed.data.items;
  for (const o of items) {
    const entry: LiveObject = { sha256: o.metadata.annotations?.[MANIFEST_HASH_ANNOTATION] };
    if (o.kind === 'Deployment') entry.replicas = { wanted: o.spec?.replicas ?? 1, available: o.status?.availableReplicas ?? 0 };
    live.set(objectKey({ kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace ?? undefined }), entry);
  }
  return live;
}
