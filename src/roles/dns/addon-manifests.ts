/**
 * An add-on's objects as kprov applies them: each template under templates/ renders one object;
 * its sha256 (of the rendered text) is written into the object as an annotation, so a later run
 * knows from one read whether the object in the cluster is the one this inventory describes —
 * without comparing against what the API server defaulted or what controllers added.
 */
import { createHash } from 'node:crypto';
import { isMap, parseDocument } from 'yaml';
import type { TemplateRenderer } from '../../engine/contract.js';
import { KprovError } from '../../errors.js';

export const MANIFEST_HASH_ANNOTATION = 'kprov/manifest-sha256';

export interface AddonObject {
  kind: string;
  name: string;
  /** Undefined for cluster-scoped objects. */
  namespace: string | undefined;
  /** The template it came from (for errors). */
  template: string;
  sha256: string;
  /** The YAML kubectl applies: the rendered object with its hash annotation. */
  manifest: string;
}

/** `Deployment kube-system/coredns`, `ClusterRole system:coredns`. */
export function objectLabel(o: Pick<AddonObject, 'kind' | 'name' | 'namespace'>): string {
  return `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
}

/** Same object (kind, namespace, name), as the API names it. */
export function objectKey(o: Pick<AddonObject, 'kind' | 'name' | 'namespace'>): string {
  return `${o.kind}/${o.namespace ?? ''}/${o.name}`;
}

function field(map: unknown, key: string): unknown {
  return isMap(map) ? map.get(key) : undefined;
}

/** Renders one template into one object; bad output is a config error naming the template. */
export function renderAddonObject(render: TemplateRenderer, template: string, vars: Record<string, unknown>): AddonObject {
  const text = render(template, vars);
  const doc = parseDocument(text);
  const bad = (what: string) => new KprovError('config', `templates/${template} rendered ${what}`, { hint: 'check the variables it uses (kprov inventory show)' });
  if (doc.errors.length > 0) throw bad(`invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const metadata = doc.get('metadata', true);
  const kind = doc.get('kind');
  const name = field(metadata, 'name');
  const namespace = field(metadata, 'namespace');
  const scalarText = (v: unknown) => (isScalarLike(v) ? String(v) : undefined);
  if (typeof kind !== 'string' || scalarText(name) === undefined || typeof doc.get('apiVersion') !== 'string') throw bad('no object (apiVersion, kind and metadata.name are needed)');
  const sha256 = createHash('sha256').update(text).digest('hex');
  doc.setIn(['metadata', 'annotations', MANIFEST_HASH_ANNOTATION], sha256);
  return { kind, name: scalarText(name)!, namespace: scalarText(namespace), template, sha256, manifest: doc.toString() };
}

function isScalarLike(v: unknown): v is string | number {
  return typeof v === 'string' || typeof v === 'number';
}

/** One YAML stream of several objects, for `kubectl apply -f -`. */
export function manifestStream(objects: readonly AddonObject[]): string {
  return objects.map((o) => o.manifest).join('---\n');
}
