/**
 * Authorization for --authorization-mode: the v1.13 RBAC bootstrap roles of the control-plane
 * identities (system:masters, system:kube-controller-manager, system:kube-scheduler,
 * system:kube-proxy/system:node-proxier, discovery for everyone), then the stored RBAC objects
 * (rbac-store.ts) for everyone else, and the Node authorizer for kubelets (node-authorizer.ts).
 */
import type { UserInfo } from './authn.js';
import { nodeAuthorizerAllows } from './node-authorizer.js';
import { storedRbacAllows } from './rbac-store.js';
import type { Registry } from './registry.js';

export interface RequestAttributes {
  user: UserInfo;
  verb: string;
  path: string;
  resourceRequest: boolean;
  apiGroup?: string;
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

/** resource or resource/subresource */
export const resourcePath = (a: RequestAttributes) => (a.subresource ? `${a.resource}/${a.subresource}` : a.resource ?? '');

/** What the controller-manager's controllers write (their system:controller:* roles together). */
const allWrites = ['create', 'update', 'patch', 'delete'];
const controllerWrites: Record<string, string[]> = {
  nodes: ['update', 'patch'],
  'nodes/status': ['update', 'patch'],
  pods: ['create', 'delete'],
  endpoints: allWrites,
  serviceaccounts: allWrites,
  secrets: allWrites,
  replicasets: allWrites,
  'replicasets/status': ['update', 'patch'],
  deployments: ['update', 'patch'],
  'deployments/status': ['update', 'patch'],
};

/** The hard-coded bootstrap policy of the control-plane identities and discovery. */
export function bootstrapRbacAllows(a: RequestAttributes): boolean {
  const { user } = a;
  if (user.groups.includes('system:masters')) return true;
  if (!a.resourceRequest) return a.verb === 'get' && discoveryPaths.some((re) => re.test(a.path));
  // system:basic-user: every authenticated user may ask what it may do.
  if (a.resource === 'selfsubjectaccessreviews' && a.verb === 'create' && user.groups.includes('system:authenticated')) return true;
  const r = resourcePath(a);
  const lockFor = (holder: string) =>
    (a.resource === 'endpoints' || a.resource === 'configmaps') &&
    a.namespace === 'kube-system' &&
    (a.verb === 'create' || (['get', 'update', 'patch'].includes(a.verb) && a.name === holder));
  if (user.name === 'system:kube-controller-manager') {
    if (readVerbs.has(a.verb)) return true;
    if (lockFor('kube-controller-manager')) return true;
    // Node IPAM/lifecycle, deployment, replicaset, endpoint, serviceaccount, token and garbage collector controllers.
    return controllerWrites[r]?.includes(a.verb) === true;
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

export async function authorize(modes: readonly string[], a: RequestAttributes, registry: Registry): Promise<Decision> {
  for (const mode of modes) {
    if (mode === 'AlwaysAllow') return { allowed: true };
    if (mode === 'RBAC') {
      if (bootstrapRbacAllows(a)) return { allowed: true };
      if (await storedRbacAllows(registry, a.user, a)) return { allowed: true };
    }
    if (mode === 'Node' && (await nodeAuthorizerAllows(registry, a))) return { allowed: true };
  }
  return { allowed: false, reason: forbiddenMessage(a) };
}

/** v1.13's wording: `deployments.apps "x" is forbidden: User "u" cannot get resource "deployments" in API group "apps" in the namespace "ns"`. */
export function forbiddenMessage(a: RequestAttributes): string {
  if (!a.resourceRequest) return `forbidden: User "${a.user.name}" cannot ${a.verb} path "${a.path}"`;
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : `${a.resource}`;
  const subject = a.name ? `${qualified} "${a.name}"` : qualified;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `${subject} is forbidden: User "${a.user.name}" cannot ${a.verb} resource "${resourcePath(a)}" in API group "${a.apiGroup ?? ''}" ${scope}`;
}
