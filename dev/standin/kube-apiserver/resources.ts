/**
 * The core/v1 resources the stand-in serves, their etcd keys (the v1.13 layout: nodes under
 * /registry/minions, endpoints under /registry/services/endpoints) and their discovery entries.
 */
export interface ResourceDef {
  /** Plural, as in the URL. */
  name: string;
  singularName: string;
  kind: string;
  namespaced: boolean;
  /** etcd key below --etcd-prefix. */
  storagePath: string;
  verbs: string[];
  shortNames: string[];
  /** Subresources with their own update path (nodes/status). */
  subresources: string[];
  /** Served by code, not stored (componentstatuses). */
  virtual?: boolean;
}

const rw = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

export const resources: readonly ResourceDef[] = [
  { name: 'nodes', singularName: '', kind: 'Node', namespaced: false, storagePath: 'minions', verbs: rw, shortNames: ['no'], subresources: ['status'] },
  { name: 'namespaces', singularName: '', kind: 'Namespace', namespaced: false, storagePath: 'namespaces', verbs: rw, shortNames: ['ns'], subresources: ['status'] },
  { name: 'endpoints', singularName: '', kind: 'Endpoints', namespaced: true, storagePath: 'services/endpoints', verbs: rw, shortNames: ['ep'], subresources: [] },
  { name: 'configmaps', singularName: '', kind: 'ConfigMap', namespaced: true, storagePath: 'configmaps', verbs: rw, shortNames: ['cm'], subresources: [] },
  { name: 'secrets', singularName: '', kind: 'Secret', namespaced: true, storagePath: 'secrets', verbs: rw, shortNames: [], subresources: [] },
  { name: 'services', singularName: '', kind: 'Service', namespaced: true, storagePath: 'services/specs', verbs: rw, shortNames: ['svc'], subresources: ['status'] },
  { name: 'pods', singularName: '', kind: 'Pod', namespaced: true, storagePath: 'pods', verbs: rw, shortNames: ['po'], subresources: ['status', 'binding', 'eviction', 'log'] },
  { name: 'componentstatuses', singularName: '', kind: 'ComponentStatus', namespaced: false, storagePath: '', verbs: ['get', 'list'], shortNames: ['cs'], subresources: [], virtual: true },
];

export function findResource(name: string): ResourceDef | undefined {
  return resources.find((r) => r.name === name);
}

/** Kind and verbs of each subresource in discovery, as v1.13 lists them. */
const subresourceDiscovery: Record<string, { kind: string; group?: string; version?: string; verbs: string[] }> = {
  status: { kind: '', verbs: ['get', 'patch', 'update'] },
  binding: { kind: 'Binding', verbs: ['create'] },
  eviction: { kind: 'Eviction', group: 'policy', version: 'v1beta1', verbs: ['create'] },
  log: { kind: 'Pod', verbs: ['get'] },
};

/** The APIResourceList of /api/v1. */
export function apiV1ResourceList(): unknown {
  const list: unknown[] = [];
  for (const r of resources) {
    list.push({ name: r.name, singularName: r.singularName, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, shortNames: r.shortNames });
    for (const sub of r.subresources) {
      const d = subresourceDiscovery[sub] ?? { kind: '', verbs: ['get'] };
      list.push({ name: `${r.name}/${sub}`, singularName: '', namespaced: r.namespaced, ...d, kind: d.kind === '' ? r.kind : d.kind });
    }
  }
  return { kind: 'APIResourceList', groupVersion: 'v1', resources: list };
}
