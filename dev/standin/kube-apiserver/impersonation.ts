/**
 * Impersonation (`kubectl --as=… --as-group=…`): the Impersonate-User and Impersonate-Group
 * headers replace the requester when it may `impersonate` that user (or service account) and each
 * group, as v1.13's impersonation filter checks; the new user is also system:authenticated, and a
 * service account gets its two service-account groups.
 */
import type { IncomingMessage } from 'node:http';
import type { UserInfo } from './authn.js';
import { authorize } from './authz.js';
import { StatusError, type Registry } from './registry.js';

const headerValues = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export async function impersonate(req: IncomingMessage, who: UserInfo, modes: readonly string[], registry: Registry, path: string): Promise<UserInfo> {
  const user = headerValues(req.headers['impersonate-user'])[0];
  const groups = headerValues(req.headers['impersonate-group']);
  if (user === undefined) {
    if (groups.length > 0) throw new StatusError(500, 'InternalError', 'Internal error occurred: requested [Impersonate-Group] without impersonating a user');
    return who;
  }
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
  const checks = [
    sa ? { resource: 'serviceaccounts', namespace: sa[1]!, name: sa[2]! } : { resource: 'users', name: user },
    ...groups.map((g) => ({ resource: 'groups', name: g })),
  ];
  for (const c of checks) {
    const decision = await authorize(modes, { user: who, verb: 'impersonate', path, resourceRequest: true, apiGroup: '', ...c }, registry);
    if (!decision.allowed) {
      const scope = 'namespace' in c ? ` in the namespace "${c.namespace}"` : ' at the cluster scope';
      throw new StatusError(403, 'Forbidden', `${c.resource} "${c.name}" is forbidden: User "${who.name}" cannot impersonate resource "${c.resource}" in API group ""${scope}`, { name: c.name, kind: c.resource });
    }
  }
  const extra = sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`] : [];
  return { name: user, groups: [...new Set([...groups, ...extra, 'system:authenticated'])] };
}
