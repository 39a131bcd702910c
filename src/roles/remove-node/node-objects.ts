/**
 * What the API says about a node that leaves, through kubectl on a control-plane host that stays:
 * the Node (schedulable? Ready?) and the pods a drain would evict (not mirror pods, not DaemonSet
 * pods, not finished ones), checked once at the edge so the rest trusts the shape.
 */
import { z } from 'zod';
import { KprovError } from '../../errors.js';

const nodeSchema = z.looseObject({
  spec: z.looseObject({ unschedulable: z.boolean().nullish() }).nullish(),
  status: z.looseObject({ conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).nullish() }).nullish(),
});

const podList = z.looseObject({
  items: z.array(
    z.looseObject({
      metadata: z.looseObject({
        name: z.string(),
        namespace: z.string().nullish(),
        annotations: z.record(z.string(), z.string()).nullish(),
        ownerReferences: z.array(z.looseObject({ kind: z.string() })).nullish(),
      }),
      status: z.looseObject({ phase: z.string().nullish() }).nullish(),
    }),
  ),
});

export interface NodeState {
  unschedulable: boolean;
  ready: boolean;
}

function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new KprovError('host', `kubectl printed no JSON for ${what}: ${text.trim().slice(0, 200)}`);
  }
}

/** undefined when kubectl found no such node (`--ignore-not-found` prints nothing). */
export function parseNode(text: string): NodeState | undefined {
  if (text.trim() === '') return undefined;
  const parsed = nodeSchema.safeParse(json(text, 'the node'));
  if (!parsed.success) throw new KprovError('host', `unexpected node from kubectl: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const ready = (parsed.data.status?.conditions ?? []).find((c) => c.type === 'Ready')?.status === 'True';
  return { unschedulable: parsed.data.spec?.unschedulable === true, ready };
}

/** `namespace/name` of the pods a drain evicts. */
export function evictablePods(text: string): string[] {
  const parsed = podList.safeParse(json(text, 'the pods'));
  if (!parsed.success) throw new KprovError('host', `unexpected pod list from kubectl: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data.items
    .filter((p) => !p.metadata.annotations?.['kubernetes.io/config.mirror'])
    .filter((p) => !(p.metadata.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet'))
    .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .map((p) => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`);
}
