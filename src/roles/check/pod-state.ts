/**
 * The parts of `kubectl get pods -o json` the check reads, checked once at the edge: phase, pod
 * IP, node, and why a container is not running (waiting reason and message, or exit code).
 */
import { z } from 'zod';
import { KprovError } from '../../errors.js';

const state = z.looseObject({
  waiting: z.looseObject({ reason: z.string().nullish(), message: z.string().nullish() }).nullish(),
  running: z.looseObject({}).nullish(),
  terminated: z.looseObject({ exitCode: z.number().nullish(), reason: z.string().nullish() }).nullish(),
});

const podList = z.object({
  items: z.array(
    z.looseObject({
      metadata: z.looseObject({ name: z.string(), labels: z.record(z.string(), z.string()).nullish() }),
      spec: z.looseObject({ nodeName: z.string().nullish() }).nullish(),
      status: z
        .looseObject({
          phase: z.string().nullish(),
          podIP: z.string().nullish(),
          conditions: z.array(z.looseObject({ type: z.string(), status: z.string(), reason: z.string().nullish(), message: z.string().nullish() })).nullish(),
          containerStatuses: z.array(z.looseObject({ name: z.string(), state: state.nullish() })).nullish(),
        })
        .nullish(),
    }),
  ),
});

export interface PodState {
  name: string;
  node: string | undefined;
  phase: string;
  ip: string | undefined;
  /** Why it is not running yet or any more, in kubectl's words; '' when nothing to say. */
  why: string;
}

export function parsePods(json: string): PodState[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new KprovError('host', 'kubectl get pods did not print JSON');
  }
  const parsed = podList.safeParse(raw);
  if (!parsed.success) throw new KprovError('host', `kubectl get pods printed an unexpected pod list: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data.items.map((p) => {
    const status = p.status ?? {};
    const reasons: string[] = [];
    for (const c of status.containerStatuses ?? []) {
      const w = c.state?.waiting;
      const t = c.state?.terminated;
      if (w?.reason) reasons.push(w.message ? `${w.reason}: ${w.message}` : w.reason);
      else if (t) reasons.push(`${t.reason ?? 'Terminated'} (exit code ${t.exitCode ?? '?'})`);
    }
    const unscheduled = (status.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
    if (unscheduled) reasons.push(`${unscheduled.reason ?? 'Unschedulable'}: ${unscheduled.message ?? ''}`.trim());
    return { name: p.metadata.name, node: p.spec?.nodeName ?? undefined, phase: status.phase ?? 'Pending', ip: status.podIP || undefined, why: reasons.join('; ') };
  });
}
