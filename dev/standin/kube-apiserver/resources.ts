/**
 * The resources the stand-in serves, by API group: core/v1, apps/v1, rbac.authorization.k8s.io/v1,
 * and authorization.k8s.io/v1's SelfSubjectAccessReview (answered, not stored).
 * Each has its etcd key (the v1.13 layout: nodes under /registry/minions, endpoints under
 * /registry/services/endpoints, deployments under /registry/deployments, …) and its discovery entry.
 */
export interface ResourceDef {
  /** API group: '' for core. */
  group: string;
  version: string;
  /** Plural, as in the URL. */
  name: string;
  singularName: string;
  kind: string;
  namespaced: boolean;
  /** etcd key below --etcd-prefix. */
  storagePath: string;
  verbs: string[];
  shortNames: string[];
  categories?: string[];
  /** Subresources with their own path (nodes/status, deployments/scale). */
  subresources: string[];
  /** Served by code, not stored (componentstatuses). */
  virtual?: boolean;
  /** metadata.generation counts spec changes (workload controllers report observedGeneration). */
  generation?: boolean;
}

const rw = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const rwc = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const core = { group: '', version: 'v1', singularName: '' };
const apps = { group: 'apps', version: 'v1', singularName: '' };
const rbac = { group: 'rbac.authorization.k8s.io', version: 'v1', singularName: '', verbs: rwc, shortNames: [], subresources: [] };

export const resources: readonly ResourceDef[] = [
  { ...core, name: 'nodes', kind: 'Node', namespaced: false, storagePath: 'minions', verbs: rw, shortNames: ['no'], subresources: ['status'] },
  { ...core, name: 'namespaces', kind: 'Namespace', namespaced: false, storagePath: 'namespaces', verbs: rw, shortNames: ['ns'], subresources: ['status'] },
  { ...core, name: 'endpoints', kind: 'Endpoints', namespaced: true, storagePath: 'services/endpoints', verbs: rw, shortNames: ['ep'], subresources: [] },
  { ...core, name: 'configmaps', kind: 'ConfigMap', namespaced: true, storagePath: 'configmaps', verbs: rw, shortNames: ['cm'], subresources: [] },
  { ...core, name: 'secrets', kind: 'Secret', namespaced: true, storagePath: 'secrets', verbs: rwc, shortNames: [], subresources: [] },
  { ...core, name: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, storagePath: 'serviceaccounts', verbs: rwc, shortNames: ['sa'], subresources: [] },
  { ...core, name: 'services', kind: 'Service', namespaced: true, storagePath: 'services/specs', verbs: rw, shortNames: ['svc'], categories: ['all'], subresources: ['status'] },
  { ...core, name: 'pods', kind: 'Pod', namespaced: true, storagePath: 'pods', verbs: rw, shortNames: ['po'], categories: ['all'], subresources: ['status', 'binding', 'eviction', 'log'] },
  { ...core, name: 'componentstatuses', kind: 'ComponentStatus', namespaced: false, storagePath: '', verbs: ['get', 'list'], shortNames: ['cs'], subresources: [], virtual: true },
  { ...apps, name: 'deployments', kind: 'Deployment', namespaced: true, storagePath: 'deployments', verbs: rwc, shortNames: ['deploy'], categories: ['all'], subresources: ['scale', 'status'], generation: true },
  { ...apps, name: 'replicasets', kind: 'ReplicaSet', namespaced: true, storagePath: 'replicasets', verbs: rwc, shortNames: ['rs'], categories: ['all'], subresources: ['scale', 'status'], generation: true },
  { group: 'authorization.k8s.io', version: 'v1', singularName: '', name: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview', namespaced: false, storagePath: '', verbs: ['create'], shortNames: [], subresources: [], virtual: true },
  { ...rbac, name: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false, storagePath: 'clusterrolebindings' },
  { ...rbac, name: 'clusterroles', kind: 'ClusterRole', namespaced: false, storagePath: 'clusterroles' },
  { ...rbac, name: 'rolebindings', kind: 'RoleBinding', namespaced: true, storagePath: 'rolebindings' },
  { ...rbac, name: 'roles', kind: 'Role', namespaced: true, storagePath: 'roles' },
];

/** `apps/v1`, or `v1` for the core group. */
export function groupVersion(def: Pick<ResourceDef, 'group' | 'version'>): string {
  return def.group === '' ? def.version : `${def.group}/${def.version}`;
}

/** The URL prefix of a group version: /api/v1 or /apis/<group>/<version>. */
export function apiPrefix(def: Pick<ResourceDef, 'group' | 'version'>): string {
  return def.group === '' ? `/api/${def.version}` : `/apis/${def.group}/${def.version}`;
}

/** A resource by its plural name (unique across the served groups). */
export function findResource(name: string): ResourceDef | undefined {
  return resources.find((r) => r.name === name);
}

/** A resource of one group version, as a URL names it. */
export function findGroupResource(group: string, version: string, name: string): ResourceDef | undefined {
  return resources.find((r) => r.group === group && r.version === version && r.name === name);
}

/** Kind and verbs of each subresource in discovery, as v1.13 lists them. */
const subresourceDiscovery: Record<string, { kind: string; group?: string; version?: string; verbs: string[] }> = {
  status: { kind: '', verbs: ['get', 'patch', 'update'] },
  scale: { kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] },
  binding: { kind: 'Binding', verbs: ['create'] },
  eviction: { kind: 'Eviction', group: 'policy', version: 'v1beta1', verbs: ['create'] },
  log: { kind: 'Pod', verbs: ['get'] },
};

/** The APIResourceList of one group version (/api/v1, /apis/apps/v1, …). */
export function apiResourceList(group: string, version: string): unknown {
  const list: unknown[] = [];
  for (const r of resources.filter((x) => x.group === group && x.version === version)) {
    list.push({ name: r.name, singularName: r.singularName, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, ...(r.shortNames.length ? { shortNames: r.shortNames } : {}), ...(r.categories ? { categories: r.categories } : {}) });
    for (const sub of r.subresources) {
      const d = subresourceDiscovery[sub] ?? { kind: '', verbs: ['get'] };
      list.push({ name: `${r.name}/${sub}`, singularName: '', namespaced: r.namespaced, ...d, kind: d.kind === '' ? r.kind : d.kind });
    }
  }
  // /api/v1 answers without apiVersion, the named groups with it (as v1.13 does).
  return { kind: 'APIResourceList', ...(group === '' ? {} : { apiVersion: 'v1' }), groupVersion: groupVersion({ group, version }), resources: list };
}

/** The APIResourceList of /api/v1. */
export function apiV1ResourceList(): unknown {
  return apiResourceList('', 'v1');
}

/** The named groups (not core), in the order v1.13 lists the ones served here (apps, authorization, rbac). */
export function apiGroups(): Array<{ name: string; versions: Array<{ groupVersion: string; version: string }>; preferredVersion: { groupVersion: string; version: string } }> {
  const names = [...new Set(resources.filter((r) => r.group !== '').map((r) => r.group))];
  return names.map((name) => {
    const versions = [...new Set(resources.filter((r) => r.group === name).map((r) => r.version))].map((version) => ({ groupVersion: `${name}/${version}`, version }));
    return { name, versions, preferredVersion: versions[0]! };
  });
}
