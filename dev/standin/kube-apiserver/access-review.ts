/**
 * authorization.k8s.io/v1 SelfSubjectAccessReview (`kubectl auth can-i`): the authorizer's answer
 * for the requesting user and the review's resourceAttributes or nonResourceAttributes.
 */
import type { UserInfo } from './authn.js';
import { authorize } from './authz.js';
import { StatusError, type Obj, type Registry } from './registry.js';

const rec = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

export async function selfSubjectAccessReview(body: Obj, user: UserInfo, modes: readonly string[], registry: Registry): Promise<Obj> {
  const spec = rec(body.spec);
  const ra = rec(spec.resourceAttributes);
  const na = rec(spec.nonResourceAttributes);
  let decision;
  if (spec.resourceAttributes !== undefined) {
    decision = await authorize(
      modes,
      {
        user,
        verb: str(ra.verb) ?? '',
        path: '',
        resourceRequest: true,
        apiGroup: str(ra.group) ?? '',
        resource: str(ra.resource) ?? '',
        ...(str(ra.subresource) ? { subresource: str(ra.subresource)! } : {}),
        ...(str(ra.namespace) ? { namespace: str(ra.namespace)! } : {}),
        ...(str(ra.name) ? { name: str(ra.name)! } : {}),
      },
      registry,
    );
  } else if (spec.nonResourceAttributes !== undefined) {
    decision = await authorize(modes, { user, verb: str(na.verb) ?? '', path: str(na.path) ?? '', resourceRequest: false }, registry);
  } else {
    throw new StatusError(422, 'Invalid', 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: [spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified, spec.nonResourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified]');
  }
  return {
    kind: 'SelfSubjectAccessReview',
    apiVersion: 'authorization.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec,
    status: decision.allowed ? { allowed: true, reason: 'allowed by the stand-in authorizer' } : { allowed: false },
  };
}
