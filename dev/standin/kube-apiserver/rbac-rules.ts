/**
 * RBAC's matching rules (v1.13 pkg/apis/rbac/v1 helpers, rbac/validation): which subjects a binding
 * names and whether a PolicyRule covers a request. Pure functions over stored objects.
 */
import type { UserInfo } from './authn.js';

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Subject {
  kind?: string;
  name?: string;
  namespace?: string;
}

/** What a rule is matched against: the request as the authorizer sees it. */
export interface RuleRequest {
  verb: string;
  resourceRequest: boolean;
  path: string;
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

const has = (list: string[] | undefined, v: string) => (list ?? []).some((x) => x === '*' || x === v);

/** `*`, `pods`, `pods/log`, and `*\/scale` for a subresource of any resource. */
function resourceMatches(rule: PolicyRule, resource: string, subresource: string | undefined): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return (rule.resources ?? []).some((r) => r === '*' || r === combined || (subresource !== undefined && r.startsWith('*/') && r.slice(2) === subresource));
}

/** A nonResourceURL is exact, `*`, or a prefix ending in `*`. */
function urlMatches(rule: PolicyRule, path: string): boolean {
  return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))));
}

export function ruleAllows(rule: PolicyRule, r: RuleRequest): boolean {
  if (!has(rule.verbs, r.verb)) return false;
  if (!r.resourceRequest) return urlMatches(rule, r.path);
  if (!has(rule.apiGroups, r.apiGroup ?? '')) return false;
  if (!resourceMatches(rule, r.resource ?? '', r.subresource)) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (r.name !== undefined && names.includes(r.name));
}

export function rulesAllow(rules: readonly PolicyRule[], r: RuleRequest): boolean {
  return rules.some((rule) => ruleAllows(rule, r));
}

/** Whether a binding's subject is this user; a ServiceAccount without namespace is in the binding's. */
export function subjectMatches(s: Subject, user: UserInfo, bindingNamespace: string | undefined): boolean {
  switch (s.kind) {
    case 'User':
      return s.name === user.name;
    case 'Group':
      return s.name !== undefined && user.groups.includes(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      return ns !== undefined && ns !== '' && user.name === `system:serviceaccount:${ns}:${s.name ?? ''}`;
    }
    default:
      return false;
  }
}
