/**
 * Server-side printing: meta.k8s.io/v1beta1 Table objects, which kubectl asks for with
 * `Accept: application/json;as=Table;v=v1beta1;g=meta.k8s.io`. Nodes get the v1.13 node columns
 * (NAME STATUS ROLES AGE VERSION, and the -o wide ones); componentstatuses NAME STATUS MESSAGE ERROR;
 * services, endpoints, pods, deployments, replicasets, secrets, serviceaccounts and configmaps their
 * v1.13 columns; anything else (roles, bindings) the default Name / Created At.
 */
import { humanDuration } from '../common/duration.js';
import type { Obj } from './registry.js';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

const col = (name: string, description: string, priority = 0, format = '', type = 'string'): Column => ({ name, type, format, description, priority });

type IncludeObject = 'None' | 'Metadata' | 'Object';

const meta = (o: Obj) => (o.metadata ?? {}) as Record<string, unknown>;
const record = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
const list = (v: unknown) => (Array.isArray(v) ? v.map(record) : []);

function age(o: Obj, now: number): string {
  const created = meta(o).creationTimestamp;
  if (typeof created !== 'string') return '<unknown>';
  return humanDuration(now - Date.parse(created));
}

function nodeStatus(o: Obj): string {
  const conditions = list(record(o.status).conditions);
  const ready = conditions.find((c) => c.type === 'Ready');
  const parts = [ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady'];
  if (record(o.spec).unschedulable === true) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function nodeRoles(o: Obj): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(record(meta(o).labels))) {
    if (k.startsWith('node-role.kubernetes.io/')) roles.add(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && typeof v === 'string') roles.add(v);
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

function address(o: Obj, type: string): string {
  const found = list(record(o.status).addresses).find((a) => a.type === type);
  return typeof found?.address === 'string' ? found.address : '<none>';
}

const info = (o: Obj, field: string) => {
  const v = record(record(o.status).nodeInfo)[field];
  return typeof v === 'string' && v !== '' ? v : '<unknown>';
};

const nodeColumns = [
  col('Name', 'Name must be unique within a namespace.', 0, 'name'),
  col('Status', 'The status of the node'),
  col('Roles', 'The roles of the node'),
  col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
  col('Version', 'Kubelet Version reported by the node.'),
  col('Internal-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
  col('External-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
  col('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
  col('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
  col('Container-Runtime', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. docker://1.5.0).', 1),
];

const componentStatusColumns = [
  col('Name', 'Name must be unique within a namespace.', 0, 'name'),
  col('Status', 'Status of the component conditions'),
  col('Message', 'Message of the component conditions'),
  col('Error', 'Error of the component conditions'),
];

const serviceColumns = [
  col('Name', 'Name must be unique within a namespace.', 0, 'name'),
  col('Type', 'Type determines how the Service is exposed.'),
  col('Cluster-IP', 'clusterIP is the IP address of the service.'),
  col('External-IP', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
  col('Port(s)', 'The list of ports that are exposed by this service.'),
  col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
  col('Selector', 'Route service traffic to pods with label keys and values matching this selector.', 1),
];

const endpointsColumns = [
  col('Name', 'Name must be unique within a namespace.', 0, 'name'),
  col('Endpoints', 'Endpoints of the object'),
  col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
];

function servicePorts(o: Obj): string {
  const ports = list(record(o.spec).ports).map((p) => `${String(p.port)}${p.nodePort ? `:${String(p.nodePort)}` : ''}/${String(p.protocol ?? 'TCP')}`);
  return ports.length === 0 ? '<none>' : ports.join(',');
}

/** `10.0.0.1:6443,10.0.0.2:6443 + 3 more...` as v1.13 prints endpoints. */
function endpointList(o: Obj): string {
  const all: string[] = [];
  for (const subset of list(o.subsets)) {
    const ports = list(subset.ports);
    for (const a of list(subset.addresses)) {
      if (ports.length === 0) all.push(String(a.ip));
      for (const p of ports) all.push(`${String(a.ip)}:${String(p.port)}`);
    }
  }
  if (all.length === 0) return '<none>';
  return all.length > 3 ? `${all.slice(0, 3).join(',')} + ${all.length - 3} more...` : all.join(',');
}

const podColumns = [
  col('Name', 'Name must be unique within a namespace.', 0, 'name'),
  col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
  col('Status', 'The aggregate status of the containers in this pod.'),
  col('Restarts', 'The number of times the containers in this pod have been restarted.', 0, '', 'integer'),
  col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
  col('IP', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
  col('Node', "NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the scheduler simply schedules this pod onto that node, assuming that it fits resource requirements.", 1),
  col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.', 1),
  col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
];

/** v1.13's printPod: READY, STATUS (a container's waiting or terminated reason wins) and RESTARTS. */
function podCells(o: Obj, now: number): unknown[] {
  const spec = record(o.spec);
  const status = record(o.status);
  const total = list(spec.containers).length;
  let reason = typeof status.reason === 'string' && status.reason !== '' ? status.reason : String(status.phase ?? 'Pending');
  let ready = 0;
  let restarts = 0;
  let hasRunning = false;
  const statuses = list(status.containerStatuses);
  for (let i = statuses.length - 1; i >= 0; i--) {
    const c = statuses[i]!;
    const state = record(c.state);
    const waiting = record(state.waiting);
    const terminated = record(state.terminated);
    restarts += typeof c.restartCount === 'number' ? c.restartCount : 0;
    if (typeof waiting.reason === 'string' && waiting.reason !== '') reason = waiting.reason;
    else if (typeof terminated.reason === 'string' && terminated.reason !== '') reason = terminated.reason;
    else if (state.terminated !== undefined) reason = typeof terminated.signal === 'number' && terminated.signal !== 0 ? `Signal:${terminated.signal}` : `ExitCode:${String(terminated.exitCode ?? 0)}`;
    else if (c.ready === true && state.running !== undefined) {
      hasRunning = true;
      ready++;
    }
  }
  if (reason === 'Completed' && hasRunning) reason = 'Running';
  if (meta(o).deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  const gates = list(spec.readinessGates);
  const gateCell = gates.length === 0 ? '<none>' : `${gates.filter((g) => list(status.conditions).some((c) => c.type === g.conditionType && c.status === 'True')).length}/${gates.length}`;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : '<none>');
  return [meta(o).name, `${ready}/${total}`, reason, restarts, age(o, now), text(status.podIP), text(spec.nodeName), text(status.nominatedNodeName), gateCell];
}

const templateColumns = [
  col('Containers', 'Names of each container in the template.', 1),
  col('Images', 'Images referenced by each container in the template.', 1),
  col('Selector', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', 1),
];

const deploymentColumns = [
  col('Name', 'Name must be unique within a namespace.', 0, 'name'),
  col('Ready', 'Number of the pod with ready state'),
  col('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
  col('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
  col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
  ...templateColumns,
];

const replicaSetColumns = [
  col('Name', 'Name must be unique within a namespace.', 0, 'name'),
  col('Desired', 'Number of desired pods.', 0, '', 'integer'),
  col('Current', 'Number of actively running pods.', 0, '', 'integer'),
  col('Ready', 'Number of ready pods.', 0, '', 'integer'),
  col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
  ...templateColumns,
];

/** CONTAINERS, IMAGES and SELECTOR of a workload's template (the -o wide columns). */
function templateCells(o: Obj): unknown[] {
  const spec = record(o.spec);
  const containers = list(record(record(spec.template).spec).containers);
  const selector = record(spec.selector);
  const terms = Object.entries(record(selector.matchLabels)).map(([k, v]) => `${k}=${String(v)}`);
  for (const e of list(selector.matchExpressions)) terms.push(`${String(e.key)} ${String(e.operator).toLowerCase()} (${(Array.isArray(e.values) ? e.values : []).join(',')})`);
  return [containers.map((c) => String(c.name)).join(','), containers.map((c) => String(c.image)).join(','), terms.length === 0 ? '<none>' : terms.join(',')];
}

const num = (v: unknown) => (typeof v === 'number' ? v : 0);
const ageColumn = col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.');
const nameColumn = col('Name', 'Name must be unique within a namespace.', 0, 'name');
const secretColumns = [nameColumn, col('Type', 'The type of the secret'), col('Data', 'The number of entries in the secret', 0, '', 'integer'), ageColumn];
const serviceAccountColumns = [nameColumn, col('Secrets', 'The number of secrets associated with the service account', 0, '', 'integer'), ageColumn];
const configMapColumns = [nameColumn, col('Data', 'The number of entries in the configmap', 0, '', 'integer'), ageColumn];

const defaultColumns = [col('Name', 'Name must be unique within a namespace.', 0, 'name'), col('Created At', 'CreationTimestamp is a timestamp representing the server time when this object was created.', 0, '', 'date')];

function cellsFor(kind: string, o: Obj, now: number): unknown[] {
  const name = meta(o).name;
  if (kind === 'Node') {
    return [name, nodeStatus(o), nodeRoles(o), age(o, now), info(o, 'kubeletVersion'), address(o, 'InternalIP'), address(o, 'ExternalIP'), info(o, 'osImage'), info(o, 'kernelVersion'), info(o, 'containerRuntimeVersion')];
  }
  if (kind === 'ComponentStatus') {
    const c = list(o.conditions).find((x) => x.type === 'Healthy');
    return [name, c?.status === 'True' ? 'Healthy' : 'Unhealthy', c?.message ?? '', c?.error ?? ''];
  }
  if (kind === 'Service') {
    const spec = record(o.spec);
    const selector = Object.entries(record(spec.selector)).map(([k, v]) => `${k}=${String(v)}`).join(',');
    return [name, spec.type ?? 'ClusterIP', spec.clusterIP ?? '<none>', '<none>', servicePorts(o), age(o, now), selector === '' ? '<none>' : selector];
  }
  if (kind === 'Endpoints') return [name, endpointList(o), age(o, now)];
  if (kind === 'Pod') return podCells(o, now);
  if (kind === 'Secret') return [name, record(o).type ?? 'Opaque', Object.keys(record(o.data)).length, age(o, now)];
  if (kind === 'ServiceAccount') return [name, list(o.secrets).length, age(o, now)];
  if (kind === 'ConfigMap') return [name, Object.keys(record(o.data)).length + Object.keys(record(o.binaryData)).length, age(o, now)];
  if (kind === 'Deployment') {
    const st = record(o.status);
    const desired = record(o.spec).replicas ?? 1;
    return [name, `${num(st.readyReplicas)}/${num(desired)}`, num(st.updatedReplicas), num(st.availableReplicas), age(o, now), ...templateCells(o)];
  }
  if (kind === 'ReplicaSet') {
    const st = record(o.status);
    return [name, num(record(o.spec).replicas ?? 1), num(st.replicas), num(st.readyReplicas), age(o, now), ...templateCells(o)];
  }
  return [name, meta(o).creationTimestamp ?? null];
}

function rowObject(o: Obj, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1beta1', metadata: o.metadata ?? {} };
}

export function toTable(kind: string, items: Obj[], listMeta: Record<string, unknown>, include: IncludeObject): unknown {
  const now = Date.now();
  const columns: Record<string, Column[]> = { Node: nodeColumns, ComponentStatus: componentStatusColumns, Service: serviceColumns, Endpoints: endpointsColumns, Pod: podColumns, Deployment: deploymentColumns, ReplicaSet: replicaSetColumns, Secret: secretColumns, ServiceAccount: serviceAccountColumns, ConfigMap: configMapColumns };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1beta1',
    metadata: listMeta,
    columnDefinitions: columns[kind] ?? defaultColumns,
    rows: items.map((o) => {
      const object = rowObject(o, include);
      return object === undefined ? { cells: cellsFor(kind, o, now) } : { cells: cellsFor(kind, o, now), object };
    }),
  };
}

/** What the Accept header asks for: a v1beta1 Table, plain JSON, or nothing we can give (406). */
export function negotiate(accept: string | undefined): 'table' | 'json' | 'unacceptable' {
  if (!accept || accept.trim() === '') return 'json';
  let json = false;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const p = new Map(params.map((kv) => kv.split('=') as [string, string]));
    if (type === 'application/json' || type === '*/*' || type === 'application/*') {
      if (p.get('as') === 'Table') {
        if (p.get('g') === 'meta.k8s.io' && p.get('v') === 'v1beta1') return 'table';
        continue;
      }
      if (p.has('as')) continue;
      json = true;
    }
  }
  return json ? 'json' : 'unacceptable';
}
