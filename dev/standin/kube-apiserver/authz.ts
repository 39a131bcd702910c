/**
 * Authorization for --authorization-mode, at the level a provisioner exercises it: the v1.13 RBAC
 * bootstrap roles of the control-plane identities (system:masters, system:kube-controller-manager,
 * system:kube-scheduler, system:kube-proxy/system:node-proxier, discovery for everyone) and the Node
 * authorizer for kubelets (system:node:<name> in system:nodes).
 */
import type { UserInfo } from './authn.js';

export interface RequestAttributes {
  user: UserInfo;
  verb: string;
  path: string;
  resourceRequest: boolean;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export type Decision = { allowed: true } | { allowed: false; reason: string };

const readVerbs = new Set(['get', 'list', 'watch']);
const discoveryPaths = [/^\/healthz(\/.*)?$/, /^\/version\/?$/, /^\/api(\/.*)?$/, /^\/apis(\/.*)?$/, /^\/openapi(\/.*)?$/, /^\/swagger.*$/];

/** The node name of a kubelet identity, or undefined when the user is not a node. */
export function nodeNameOf(user: UserInfo): string | undefined {
  if (!user.groups.includes('system:nodes') || !user.name.startsWith('system:node:')) return undefined;
  const name = user.name.slice('system:node:'.length);
  return name === '' ? undefined : name;
}

function rbacAllows(a: RequestAttributes): boolean {
  const { user } = a;
  if (user.groups.includes('system:masters')) return true;
  if (!a.resourceRequest) return a.verb === 'get' && discoveryPaths.some((re) => re.test(a.path));
  const r = a.subresource ? `${a.resource}/${a.subresource}` : a.resource ?? '';
  const lockFor = (holder: string) =>
    (a.resource === 'endpoints' || a.resource === 'configmaps') &&
    a.namespace === 'kube-system' &&
    (a.verb === 'create' || (['get', 'update', 'patch'].includes(a.verb) && a.name === holder));
  if (user.name === 'system:kube-controller-manager') {
    if (readVerbs.has(a.verb)) return true;
    if (lockFor('kube-controller-manager')) return true;
    // Node lifecycle and IPAM controllers (node-controller's service-account role in a real cluster).
    if (['nodes', 'nodes/status'].includes(r) && ['update', 'patch'].includes(a.verb)) return true;
    // The pod garbage collector deletes pods of nodes that are gone.
    return r === 'pods' && a.verb === 'delete';
  }
  if (user.name === 'system:kube-scheduler') {
    if (lockFor('kube-scheduler')) return true;
    if (readVerbs.has(a.verb) && ['nodes', 'services', 'namespaces', 'pods'].includes(r)) return true;
    // system:kube-scheduler: bind pods and record why one cannot be scheduled.
    return (r === 'pods/binding' && a.verb === 'create') || (r === 'pods/status' && ['update', 'patch'].includes(a.verb));
  }
  if (user.name === 'system:kube-proxy' || user.groups.includes('system:node-proxier')) {
    if (['endpoints', 'services'].includes(r) && (a.verb === 'list' || a.verb === 'watch' || a.verb === 'get')) return true;
    return r === 'nodes' && readVerbs.has(a.verb);
  }
  return false;
}

function nodeAuthorizerAllows(a: RequestAttributes): boolean {
  if (nodeNameOf(a.user) === undefined || !a.resourceRequest) return false;
  const r = a.subresource ? `${a.resource}/${a.subresource}` : a.resource ?? '';
  if (r === 'nodes') return readVerbs.has(a.verb) || ['create', 'update', 'patch', 'delete'].includes(a.verb);
  if (r === 'nodes/status') return ['get', 'update', 'patch'].includes(a.verb);
  if (r === 'services' || r === 'endpoints') return readVerbs.has(a.verb);
  // system:node's pod rules; NodeRestriction admission narrows them to the node's own pods.
  if (r === 'pods') return readVerbs.has(a.verb) || a.verb === 'create' || a.verb === 'delete';
  if (r === 'pods/status') return ['update', 'patch'].includes(a.verb);
  if (r === 'pods/eviction') return a.verb === 'create';
  return false;
}

export function authorize(modes: readonly string[], a: RequestAttributes): Decision {
  for (const mode of modes) {
    if (mode === 'AlwaysAllow') return { allowed: true };
    if (mode === 'RBAC' && rbacAllows(a)) return { allowed: true };
    if (mode === 'Node' && nodeAuthorizerAllows(a)) return { allowed: true };
  }
  return { allowed: false, reason: forbiddenMessage(a) };
}

export function forbiddenMessage(a: RequestAttributes): string {
  if (!a.resourceRequest) return `forbidden: User "${a.user.name}" cannot ${a.verb} path "${a.path}"`;
  const r = a.subresource ? `${a.resource}/${a.subresource}` : a.resource ?? '';
  const subject = a.name ? `${a.resource} "${a.name}"` : `${a.resource}`;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `${subject} is forbidden: User "${a.user.name}" cannot ${a.verb} resource "${r}" in API group "" ${scope}`;
}
