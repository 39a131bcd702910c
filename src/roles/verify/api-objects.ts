/**
 * The parts of kubectl's JSON output verification reads (NodeList, ComponentStatusList), checked
 * once at the edge so the rest trusts their shape.
 */
import { z } from 'zod';
import { KprovError } from '../../errors.js';

const condition = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
  error: z.string().optional(),
});

const nodeList = z.object({
  items: z.array(
    z.object({
      metadata: z.object({ name: z.string() }),
      status: z.object({ conditions: z.array(condition).optional() }).optional(),
    }),
  ),
});

const componentStatusList = z.object({
  items: z.array(z.object({ metadata: z.object({ name: z.string() }), conditions: z.array(condition).optional() })),
});

export type Condition = z.infer<typeof condition>;

export interface NodeState {
  name: string;
  /** The Ready condition, undefined before the kubelet first posted its status. */
  ready: Condition | undefined;
}

export interface ComponentState {
  name: string;
  healthy: boolean;
  /** The Healthy condition's message or error, for reports. */
  detail: string;
}

function parseJson<T>(schema: z.ZodType<T>, text: string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KprovError('host', `kubectl printed no JSON for ${what}: ${text.trim().slice(0, 200)}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new KprovError('host', `unexpected ${what} from kubectl: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

export function parseNodes(text: string): NodeState[] {
  return parseJson(nodeList, text, 'node list').items.map((n) => ({
    name: n.metadata.name,
    ready: n.status?.conditions?.find((c) => c.type === 'Ready'),
  }));
}

export function parseComponentStatuses(text: string): ComponentState[] {
  return parseJson(componentStatusList, text, 'component statuses').items.map((c) => {
    const healthy = c.conditions?.find((x) => x.type === 'Healthy');
    return {
      name: c.metadata.name,
      healthy: healthy?.status === 'True',
      detail: healthy?.error || healthy?.message || (healthy ? `Healthy=${healthy.status}` : 'no Healthy condition'),
    };
  });
}

/** One line describing why a node is not Ready. */
export function notReadyReason(node: NodeState): string {
  const c = node.ready;
  if (!c) return `node ${node.name} has not reported its status yet`;
  const why = [c.reason, c.message].filter((s) => s !== undefined && s !== '').join(': ');
  return `node ${node.name} is not Ready (Ready=${c.status}${why ? `, ${why}` : ''})`;
}
