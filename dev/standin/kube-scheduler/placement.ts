/**
 * Where a pod may go, by the v1.13 default predicates this stand-in keeps (node Ready and
 * schedulable, nodeName, nodeSelector and required node affinity, taints against tolerations,
 * CPU/memory requests and the pod count against allocatable, required pod anti-affinity), and which
 * feasible node is best (preferred node affinity, then least requested, then fewest pods).
 * A pod that fits nowhere gets v1.13's "0/N nodes are available: …" message.
 */
import { z } from 'zod';
import { milliValue } from '../common/quantity.js';
import { affinitySchema, antiAffinityMisfit, nodeAffinityAllows, nodePreferenceScore, type PlacedPod } from './affinity.js';

const toleration = z.looseObject({ key: z.string().optional(), operator: z.string().optional(), value: z.string().optional(), effect: z.string().optional() });
export const podSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional(), labels: z.record(z.string(), z.string()).nullish(), deletionTimestamp: z.string().nullish() }),
  spec: z.looseObject({
    nodeName: z.string().optional(),
    affinity: affinitySchema.nullish(),
    schedulerName: z.string().optional(),
    nodeSelector: z.record(z.string(), z.string()).nullish(),
    tolerations: z.array(toleration).nullish(),
    containers: z.array(z.looseObject({ resources: z.looseObject({ requests: z.record(z.string(), z.union([z.string(), z.number()])).nullish() }).nullish() })).default([]),
  }),
  status: z.looseObject({ phase: z.string().optional(), conditions: z.array(z.looseObject({ type: z.string(), status: z.string(), message: z.string().optional() })).nullish() }).optional(),
});
export type Pod = z.infer<typeof podSchema>;

export const nodeSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), labels: z.record(z.string(), z.string()).nullish() }),
  spec: z.looseObject({ unschedulable: z.boolean().optional(), taints: z.array(z.looseObject({ key: z.string(), value: z.string().optional(), effect: z.string() })).nullish() }).optional(),
  status: z
    .looseObject({
      allocatable: z.record(z.string(), z.string()).nullish(),
      conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).nullish(),
    })
    .optional(),
});
export type Node = z.infer<typeof nodeSchema>;

interface Usage {
  cpu: number;
  memory: number;
  pods: number;
}

function requests(pod: Pod): Usage {
  let cpu = 0;
  let memory = 0;
  for (const c of pod.spec.containers) {
    cpu += milliValue(c.resources?.requests?.cpu) ?? 0;
    memory += milliValue(c.resources?.requests?.memory) ?? 0;
  }
  return { cpu, memory, pods: 1 };
}

/** Counts one pod bound to `node` into `usage` (what the next placement of a round must see). */
export function addUsage(usage: Map<string, Usage>, node: string, pod: Pod): void {
  const u = usage.get(node) ?? { cpu: 0, memory: 0, pods: 0 };
  const r = requests(pod);
  usage.set(node, { cpu: u.cpu + r.cpu, memory: u.memory + r.memory, pods: u.pods + 1 });
}

export function usageByNode(assigned: readonly Pod[]): Map<string, Usage> {
  const out = new Map<string, Usage>();
  for (const p of assigned) {
    const node = p.spec.nodeName;
    if (!node || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    addUsage(out, node, p);
  }
  return out;
}

function tolerates(pod: Pod, taint: { key: string; value?: string; effect: string }): boolean {
  return (pod.spec.tolerations ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return t.key === undefined || t.key === '' || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/**
 * The reason a node is not feasible, in v1.13's wording, or undefined when the pod fits. Like
 * v1.13 (alwaysCheckAllPredicates false) the first failing predicate in its order is the reason.
 */
function misfit(pod: Pod, node: Node, used: Usage, placed: readonly PlacedPod[]): string | undefined {
  const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return "node(s) were not ready";
  if (node.spec?.unschedulable) return 'node(s) were unschedulable';
  const alloc = node.status?.allocatable ?? {};
  const want = requests(pod);
  const maxPods = (milliValue(alloc.pods) ?? 110_000) / 1000;
  if (used.pods + 1 > maxPods) return 'Insufficient pods';
  const cpu = milliValue(alloc.cpu);
  if (cpu !== undefined && want.cpu > 0 && used.cpu + want.cpu > cpu) return 'Insufficient cpu';
  const memory = milliValue(alloc.memory);
  if (memory !== undefined && want.memory > 0 && used.memory + want.memory > memory) return 'Insufficient memory';
  const labels = node.metadata.labels ?? {};
  if (Object.entries(pod.spec.nodeSelector ?? {}).some(([k, v]) => labels[k] !== v) || !nodeAffinityAllows(pod.spec.affinity, labels)) return "node(s) didn't match node selector";
  if ((node.spec?.taints ?? []).some((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(pod, t))) return "node(s) had taints that the pod didn't tolerate";
  return antiAffinityMisfit(placedPodOf(pod, {}), labels, placed);
}

function placedPodOf(pod: Pod, nodeLabels: Readonly<Record<string, string>>): PlacedPod {
  return { namespace: pod.metadata.namespace ?? 'default', labels: pod.metadata.labels ?? {}, affinity: pod.spec.affinity, nodeLabels };
}

/** The assigned pods as anti-affinity sees them: namespace, labels, terms and their node's labels. */
export function placedPods(assigned: readonly Pod[], nodes: readonly Node[]): PlacedPod[] {
  const labelsOf = new Map(nodes.map((n) => [n.metadata.name, n.metadata.labels ?? {}]));
  return assigned.filter((p) => p.spec.nodeName && labelsOf.has(p.spec.nodeName)).map((p) => placedPodOf(p, labelsOf.get(p.spec.nodeName!)!));
}

export type Placement = { node: string } | { unschedulable: string };

export function place(pod: Pod, nodes: readonly Node[], usage: ReadonlyMap<string, Usage>, placed: readonly PlacedPod[] = []): Placement {
  const reasons = new Map<string, number>();
  let best: { node: string; preference: number; score: number; pods: number } | undefined;
  for (const node of nodes) {
    const used = usage.get(node.metadata.name) ?? { cpu: 0, memory: 0, pods: 0 };
    const why = misfit(pod, node, used, placed);
    if (why) {
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
      continue;
    }
    const alloc = node.status?.allocatable ?? {};
    const want = requests(pod);
    const frac = (usedV: number, cap: number | undefined) => (cap ? (usedV / cap) : 0);
    const score = frac(used.cpu + want.cpu, milliValue(alloc.cpu)) + frac(used.memory + want.memory, milliValue(alloc.memory));
    const preference = nodePreferenceScore(pod.spec.affinity, node.metadata.labels ?? {});
    const better = !best || preference > best.preference || (preference === best.preference && (score < best.score || (score === best.score && used.pods < best.pods)));
    if (better) best = { node: node.metadata.name, preference, score, pods: used.pods };
  }
  if (best) return { node: best.node };
  const detail = [...reasons.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([why, n]) => `${n} ${why}`);
  return { unschedulable: `0/${nodes.length} nodes are available: ${detail.join(', ')}.` };
}
