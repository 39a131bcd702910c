/**
 * The Node authorizer (v1.13): a kubelet (system:node:<name> in system:nodes) reads and writes its
 * Node, reads services, endpoints and pods, changes pods as NodeRestriction then narrows, and may
 * get a secret or configmap only while a pod bound to its node refers to it (volumes, projected
 * sources, env and envFrom, imagePullSecrets) — v1.13 keeps that as a graph, the stand-in asks etcd.
 */
import { nodeNameOf, resourcePath, type RequestAttributes } from './authz.js';
import type { Obj, Registry } from './registry.js';
import { findResource } from './resources.js';

const readVerbs = new Set(['get', 'list', 'watch']);
const rec = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.map(rec) : []);

/** The secrets and configmaps a pod refers to. */
export function podReferences(pod: Obj): { secrets: Set<string>; configmaps: Set<string> } {
  const spec = rec(pod.spec);
  const secrets = new Set<string>();
  const configmaps = new Set<string>();
  const add = (set: Set<string>, v: unknown) => {
    if (typeof v === 'string' && v !== '') set.add(v);
  };
  for (const s of arr(spec.imagePullSecrets)) add(secrets, s.name);
  for (const v of arr(spec.volumes)) {
    add(secrets, rec(v.secret).secretName);
    add(configmaps, rec(v.configMap).name);
    for (const src of arr(rec(v.projected).sources)) {
      add(secrets, rec(src.secret).name);
      add(configmaps, rec(src.configMap).name);
    }
  }
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    for (const e of arr(c.env)) {
      add(secrets, rec(rec(e.valueFrom).secretKeyRef).name);
      add(configmaps, rec(rec(e.valueFrom).configMapKeyRef).name);
    }
    for (const e of arr(c.envFrom)) {
      add(secrets, rec(e.secretRef).name);
      add(configmaps, rec(e.configMapRef).name);
    }
  }
  return { secrets, configmaps };
}

async function referencedByNodePod(registry: Registry, node: string, namespace: string, kind: 'secrets' | 'configmaps', name: string): Promise<boolean> {
  const { items } = await registry.listLister(findResource('pods')!, namespace);
  return items.some((p) => rec(p.spec).nodeName === node && podReferences(p)[kind].has(name));
}

export async function nodeAuthorizerAllows(registry: Registry, a: RequestAttributes): Promise<boolean> {
  const node = nodeNameOf(a.user);
  if (node === undefined || !a.resourceRequest || (a.apiGroup ?? '') !== '') return false;
  const r = resourcePath(a);
  if (r === 'nodes') return readVerbs.has(a.verb) || ['create', 'update', 'patch', 'delete'].includes(a.verb);
  if (r === 'nodes/status') return ['get', 'update', 'patch'].includes(a.verb);
  if (r === 'services' || r === 'endpoints') return readVerbs.has(a.verb);
  // system:node's pod rules; NodeRestriction admission narrows them to the node's own pods.
  if (r === 'pods') return readVerbs.has(a.verb) || a.verb === 'create' || a.verb === 'delete';
  if (r === 'pods/status') return ['update', 'patch'].includes(a.verb);
  if (r === 'pods/eviction') return a.verb === 'create';
  if ((r === 'secrets' || r === 'configmaps') && a.verb === 'get' && a.namespace && a.name) {
    return referencedByNodePod(registry, node, a.namespace, r, a.name);
  }
  return false;
}
