/**
 * The affinity rules of v1.13's scheduler that cluster add-ons use: required node affinity (part
 * of PodMatchNodeSelector), required pod anti-affinity of the incoming pod and of the pods already
 * on a node (MatchInterPodAffinity), and preferred node affinity as a score. Required pod
 * affinity and preferred pod (anti-)affinity are not kept (docs/standins.md).
 */
import { z } from 'zod';

const requirement = z.looseObject({ key: z.string(), operator: z.string(), values: z.array(z.string()).nullish() });
const labelSelector = z.looseObject({ matchLabels: z.record(z.string(), z.string()).nullish(), matchExpressions: z.array(requirement).nullish() });
const nodeSelectorTerm = z.looseObject({ matchExpressions: z.array(requirement).nullish() });
const podAffinityTerm = z.looseObject({ labelSelector: labelSelector.nullish(), namespaces: z.array(z.string()).nullish(), topologyKey: z.string() });

export const affinitySchema = z.looseObject({
  nodeAffinity: z
    .looseObject({
      requiredDuringSchedulingIgnoredDuringExecution: z.looseObject({ nodeSelectorTerms: z.array(nodeSelectorTerm) }).nullish(),
      preferredDuringSchedulingIgnoredDuringExecution: z.array(z.looseObject({ weight: z.number(), preference: nodeSelectorTerm })).nullish(),
    })
    .nullish(),
  podAntiAffinity: z.looseObject({ requiredDuringSchedulingIgnoredDuringExecution: z.array(podAffinityTerm).nullish() }).nullish(),
});
export type Affinity = z.infer<typeof affinitySchema>;
type Requirement = z.infer<typeof requirement>;

/** A label requirement as v1.13's labels.Selector evaluates it (In, NotIn, Exists, DoesNotExist, Gt, Lt). */
function matches(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(value!);
    case 'NotIn':
      return !has || !values.includes(value!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      const n = Number(value);
      const bound = Number(values[0]);
      return has && Number.isInteger(n) && (r.operator === 'Gt' ? n > bound : n < bound);
    }
    default:
      return false;
  }
}

function selectorMatches(selector: z.infer<typeof labelSelector> | null | undefined, labels: Readonly<Record<string, string>>): boolean {
  // A term without a selector matches no pod (v1.13: a nil selector selects nothing).
  if (!selector) return false;
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v) && (selector.matchExpressions ?? []).every((r) => matches(r, labels));
}

/** Required node affinity: any term whose expressions all match (an empty term matches nothing). */
export function nodeAffinityAllows(affinity: Affinity | null | undefined, nodeLabels: Readonly<Record<string, string>>): boolean {
  const terms = affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms) return true;
  return terms.some((t) => (t.matchExpressions ?? []).length > 0 && t.matchExpressions!.every((r) => matches(r, nodeLabels)));
}

/** Sum of the weights of the preferred node affinity terms this node matches. */
export function nodePreferenceScore(affinity: Affinity | null | undefined, nodeLabels: Readonly<Record<string, string>>): number {
  let score = 0;
  for (const p of affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    if ((p.preference.matchExpressions ?? []).every((r) => matches(r, nodeLabels))) score += p.weight;
  }
  return score;
}

export interface PlacedPod {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  affinity: Affinity | null | undefined;
  /** Labels of the node it runs on. */
  nodeLabels: Readonly<Record<string, string>>;
}

function inTopology(term: z.infer<typeof podAffinityTerm>, a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  return Object.hasOwn(a, term.topologyKey) && a[term.topologyKey] === b[term.topologyKey];
}

/**
 * Why required pod anti-affinity keeps `pod` off a node (v1.13's two messages), or undefined:
 * the pod's own terms against pods in the node's topology domain, and those pods' terms against it.
 */
export function antiAffinityMisfit(pod: Omit<PlacedPod, 'nodeLabels'>, nodeLabels: Readonly<Record<string, string>>, placed: readonly PlacedPod[]): string | undefined {
  for (const term of pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    const namespaces = term.namespaces && term.namespaces.length > 0 ? term.namespaces : [pod.namespace];
    if (placed.some((p) => namespaces.includes(p.namespace) && inTopology(term, nodeLabels, p.nodeLabels) && selectorMatches(term.labelSelector, p.labels))) {
      return "node(s) didn't match pod affinity/anti-affinity";
    }
  }
  for (const p of placed) {
    for (const term of p.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
      const namespaces = term.namespaces && term.namespaces.length > 0 ? term.namespaces : [p.namespace];
      if (namespaces.includes(pod.namespace) && inTopology(term, nodeLabels, p.nodeLabels) && selectorMatches(term.labelSelector, pod.labels)) {
        return "node(s) didn't satisfy existing pods anti-affinity rules";
      }
    }
  }
  return undefined;
}
