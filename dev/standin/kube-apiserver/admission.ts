/**
 * The admission checks of a write the stand-in enforces: NodeRestriction (a kubelet changes only
 * its own Node, creates only mirror pods bound to itself, and updates, deletes or evicts only
 * pods bound to itself) and NamespaceLifecycle (no objects in a namespace that does not exist).
 */
import { nodeNameOf } from './authz.js';
import type { UserInfo } from './authn.js';
import { StatusError, type Obj, type Registry } from './registry.js';
import { findResource, type ResourceDef } from './resources.js';
import { podSpecOf } from './pods.js';

export interface WriteRequest {
  def: ResourceDef;
  namespace: string | undefined;
  verb: string;
  subresource: string | undefined;
}

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

const forbidden = (kind: string, name: string, message: string) => new StatusError(403, 'Forbidden', `${kind} "${name}" is forbidden: ${message}`, { name, kind });

async function admitPodByNode(registry: Registry, own: string, r: WriteRequest, name: string, body: Obj | undefined): Promise<void> {
  if (r.verb === 'create' && r.subresource === undefined) {
    const annotations = (body?.metadata?.annotations ?? {}) as Record<string, unknown>;
    if (!(MIRROR_ANNOTATION in annotations)) throw forbidden('pods', name, `pod does not have "${MIRROR_ANNOTATION}" annotation, node "${own}" can only create mirror pods`);
    const bound = body ? podSpecOf(body).nodeName : undefined;
    if (bound !== own) throw forbidden('pods', name, `node "${own}" can only create pods with spec.nodeName set to itself`);
    return;
  }
  const pod = await registry.get(r.def, r.namespace, name);
  if (podSpecOf(pod).nodeName !== own) {
    const what = r.subresource === 'status' ? 'update pod status' : r.subresource === 'eviction' ? 'evict pods' : 'delete pods';
    throw forbidden('pods', name, `node "${own}" can only ${what} for pods with spec.nodeName set to itself`);
  }
}

/** Admission for a write; `name` is the object's name (from the URL, or the body on create). */
export async function admit(registry: Registry, plugins: ReadonlySet<string>, user: UserInfo, r: WriteRequest, name: string | undefined, body: Obj | undefined): Promise<void> {
  const own = nodeNameOf(user);
  if (plugins.has('NodeRestriction') && own !== undefined) {
    if (r.def.name === 'nodes' && ['create', 'update', 'patch', 'delete'].includes(r.verb) && name !== own) {
      throw new StatusError(403, 'Forbidden', `nodes "${name ?? ''}" is forbidden: node "${own}" cannot modify node "${name ?? ''}"`, { name: name ?? '', kind: 'nodes' });
    }
    if (r.def.name === 'pods' && ['create', 'update', 'patch', 'delete'].includes(r.verb)) await admitPodByNode(registry, own, r, name ?? '', body);
  }
  if (plugins.has('NamespaceLifecycle') && r.def.namespaced && r.verb === 'create' && r.subresource === undefined && r.namespace !== undefined) {
    if (!(await registry.exists(findResource('namespaces')!, undefined, r.namespace))) {
      throw new StatusError(404, 'NotFound', `namespaces "${r.namespace}" not found`, { name: r.namespace, kind: 'namespaces' });
    }
  }
}
