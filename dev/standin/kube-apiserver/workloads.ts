/**
 * apps/v1 Deployments and ReplicaSets as v1.13 stores them: defaulting (replicas 1; Deployments:
 * RollingUpdate 25%/25%, revisionHistoryLimit 10, progressDeadlineSeconds 600; the pod template as
 * pods are defaulted), validation (a selector that matches the template's labels, immutable on
 * update, 422 with every cause), and the autoscaling/v1 Scale view of the scale subresource.
 */
import { selectorIsEmpty, selectorMatches, selectorString, type LabelSelector } from '../common/label-selector.js';
import { defaultPodSpec } from './pods.js';
import { StatusError, selfLink, type Obj, type Strategy } from './registry.js';
import type { ResourceDef } from './resources.js';

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {});

/** Go's %#v of a label map, as v1.13 prints it in validation messages. */
const goMap = (m: Rec) => `map[string]string{${Object.entries(m).map(([k, v]) => `"${k}":"${String(v)}"`).join(', ')}}`;

export function invalidWorkload(kind: string, name: string, causes: string[]): StatusError {
  return new StatusError(422, 'Invalid', `${kind}.apps "${name}" is invalid: ${causes.length === 1 ? causes[0]! : `[${causes.join(', ')}]`}`, {
    name,
    group: 'apps',
    kind,
    causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.slice(c.indexOf(': ') + 2), field: c.slice(0, c.indexOf(': ')) })),
  });
}

/** Defaults and validation causes of a Deployment's or ReplicaSet's spec. */
export function defaultWorkloadSpec(kind: 'Deployment' | 'ReplicaSet', input: Rec): { spec: Rec; causes: string[] } {
  const causes: string[] = [];
  const spec: Rec = { ...input, replicas: input.replicas ?? 1 };
  if (typeof spec.replicas !== 'number' || !Number.isInteger(spec.replicas) || spec.replicas < 0) causes.push(`spec.replicas: Invalid value: ${JSON.stringify(spec.replicas)}: must be greater than or equal to 0`);
  const selector = rec(spec.selector) as LabelSelector;
  const template = rec(spec.template);
  const labels = rec(rec(template.metadata).labels) as Record<string, string>;
  if (spec.selector === undefined || spec.selector === null) causes.push('spec.selector: Required value');
  else if (selectorIsEmpty(selector)) causes.push(`spec.selector: Invalid value: "${selectorString(selector)}": empty selector is invalid for ${kind === 'Deployment' ? 'deployment' : 'replicaset'}`);
  else if (!selectorMatches(selector, labels)) causes.push(`spec.template.metadata.labels: Invalid value: ${goMap(labels)}: \`selector\` does not match template \`labels\``);
  const pod = defaultPodSpec(rec(template.spec), 'spec.template.spec');
  causes.push(...pod.causes);
  if (pod.spec.restartPolicy !== 'Always') causes.push(`spec.template.spec.restartPolicy: Unsupported value: "${String(pod.spec.restartPolicy)}": supported values: "Always"`);
  spec.template = { ...template, metadata: { creationTimestamp: null, ...rec(template.metadata) }, spec: pod.spec };
  if (kind === 'Deployment') {
    const strategy = rec(spec.strategy);
    const type = typeof strategy.type === 'string' && strategy.type !== '' ? strategy.type : 'RollingUpdate';
    if (type === 'RollingUpdate') {
      const ru = rec(strategy.rollingUpdate);
      spec.strategy = { ...strategy, type, rollingUpdate: { ...ru, maxUnavailable: ru.maxUnavailable ?? '25%', maxSurge: ru.maxSurge ?? '25%' } };
    } else if (type === 'Recreate') {
      if (strategy.rollingUpdate !== undefined && strategy.rollingUpdate !== null) causes.push('spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is \'Recreate\'');
      spec.strategy = { ...strategy, type };
    } else causes.push(`spec.strategy.type: Unsupported value: "${type}": supported values: "Recreate", "RollingUpdate"`);
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
  }
  return { spec, causes };
}

export function workloadStrategy(kind: 'Deployment' | 'ReplicaSet'): Strategy {
  return {
    prepareForCreate(obj) {
      const { spec, causes } = defaultWorkloadSpec(kind, rec(obj.spec));
      if (causes.length > 0) throw invalidWorkload(kind, String(obj.metadata?.name ?? ''), causes);
      return { ...obj, spec, status: {} };
    },
    prepareForUpdate(next, current) {
      const { spec, causes } = defaultWorkloadSpec(kind, rec(next.spec));
      const before = rec(current.spec).selector;
      if (JSON.stringify(spec.selector) !== JSON.stringify(before)) causes.push(`spec.selector: Invalid value: ${JSON.stringify(spec.selector)}: field is immutable`);
      if (causes.length > 0) throw invalidWorkload(kind, String(current.metadata?.name ?? ''), causes);
      return { ...next, spec };
    },
  };
}

/** GET …/scale: the autoscaling/v1 Scale of a Deployment or ReplicaSet. */
export function scaleOf(def: ResourceDef, obj: Obj): Obj {
  const meta = rec(obj.metadata);
  const spec = rec(obj.spec);
  const status = rec(obj.status);
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      selfLink: `${selfLink(def, meta.namespace as string, meta.name as string)}/scale`,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
      creationTimestamp: meta.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 1 },
    status: { replicas: status.replicas ?? 0, selector: selectorString(rec(spec.selector) as LabelSelector) },
  };
}

/** The replicas a written Scale asks for, or a 422. */
export function replicasFromScale(name: string, scale: Obj): number {
  const replicas = rec(scale.spec).replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw new StatusError(422, 'Invalid', `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`, { name, group: 'autoscaling', kind: 'Scale' });
  }
  return replicas;
}
