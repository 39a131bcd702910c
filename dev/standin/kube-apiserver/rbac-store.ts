/**
 * RBAC from the stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings: a request is
 * allowed when a ClusterRoleBinding, or a RoleBinding of the request's namespace, names the user
 * and its role has a rule that covers the request. Read from etcd on each request it reaches
 * (only the users the bootstrap rules do not cover get here), so a new binding counts at once.
 */
import { z } from 'zod';
import type { UserInfo } from './authn.js';
import { rulesAllow, subjectMatches, type PolicyRule, type RuleRequest } from './rbac-rules.js';
import type { Obj, Registry } from './registry.js';
import { findResource } from './resources.js';

const ruleSchema = z.looseObject({
  verbs: z.array(z.string()).nullish(),
  apiGroups: z.array(z.string()).nullish(),
  resources: z.array(z.string()).nullish(),
  resourceNames: z.array(z.string()).nullish(),
  nonResourceURLs: z.array(z.string()).nullish(),
});
const roleSchema = z.looseObject({ rules: z.array(ruleSchema).nullish() });
const bindingSchema = z.looseObject({
  metadata: z.looseObject({ namespace: z.string().optional() }).optional(),
  subjects: z.array(z.looseObject({ kind: z.string().optional(), name: z.string().optional(), namespace: z.string().optional() })).nullish(),
  roleRef: z.looseObject({ kind: z.string(), name: z.string() }),
});

function rulesOf(o: Obj): PolicyRule[] {
  const parsed = roleSchema.safeParse(o);
  if (!parsed.success) return [];
  return (parsed.data.rules ?? []).map((r) => ({
    verbs: r.verbs ?? [],
    apiGroups: r.apiGroups ?? [],
    resources: r.resources ?? [],
    resourceNames: r.resourceNames ?? [],
    nonResourceURLs: r.nonResourceURLs ?? [],
  }));
}

async function roleRules(registry: Registry, kind: string, namespace: string | undefined, name: string): Promise<PolicyRule[]> {
  const def = findResource(kind === 'ClusterRole' ? 'clusterroles' : 'roles')!;
  try {
    return rulesOf(await registry.lookup(def, kind === 'ClusterRole' ? undefined : namespace, name));
  } catch {
    return [];
  }
}

export async function storedRbacAllows(registry: Registry, user: UserInfo, r: RuleRequest & { namespace?: string }): Promise<boolean> {
  const bindings: Array<{ binding: z.infer<typeof bindingSchema>; namespace: string | undefined }> = [];
  for (const o of (await registry.listLister(findResource('clusterrolebindings')!, undefined)).items) {
    const b = bindingSchema.safeParse(o);
    if (b.success) bindings.push({ binding: b.data, namespace: undefined });
  }
  if (r.namespace) {
    for (const o of (await registry.listLister(findResource('rolebindings')!, r.namespace)).items) {
      const b = bindingSchema.safeParse(o);
      if (b.success) bindings.push({ binding: b.data, namespace: r.namespace });
    }
  }
  for (const { binding, namespace } of bindings) {
    if (!(binding.subjects ?? []).some((s) => subjectMatches(s, user, namespace))) continue;
    // A ClusterRoleBinding's ClusterRole applies everywhere; a RoleBinding's role in its namespace.
    if (namespace === undefined && binding.roleRef.kind !== 'ClusterRole') continue;
    if (rulesAllow(await roleRules(registry, binding.roleRef.kind, namespace, binding.roleRef.name), r)) return true;
  }
  return false;
}
