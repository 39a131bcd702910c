/**
 * The scheduling loop while this scheduler leads: pending pods (no node, not finished, this
 * scheduler's name) are bound one at a time to the best feasible node through pods/binding; a pod
 * that fits nowhere gets PodScheduled=False/Unschedulable with the reasons, written only when they
 * change. Driven by a watch on pods, as v1.13's informers drive it: a round runs when a pod
 * changes, and at least every 30 s (nodes that become Ready or free are seen then): common/watch-loop.ts.
 */
import { z } from 'zod';
import { ApiError, type ApiClient } from '../common/client.js';
import type { Logger } from '../common/klog.js';
import { kubeTime } from '../common/objects.js';
import { runController, SCHEDULER_RESYNC_MS, type ControllerLoop } from '../common/watch-loop.js';
import { addUsage, nodeSchema, place, placedPods, podSchema, usageByNode, type Pod } from './placement.js';

const pendingSelector = encodeURIComponent('spec.nodeName=,status.phase!=Succeeded,status.phase!=Failed');
const assignedSelector = encodeURIComponent('spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed');

const podList = z.looseObject({ items: z.array(podSchema).nullish() });
const nodeList = z.looseObject({ items: z.array(nodeSchema).nullish() });

async function markUnschedulable(client: ApiClient, pod: Pod, message: string): Promise<void> {
  const current = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
  if (current?.status === 'False' && current.message === message) return;
  const condition = { type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: kubeTime(), reason: 'Unschedulable', message };
  await client.call('PATCH', `/api/v1/namespaces/${pod.metadata.namespace ?? 'default'}/pods/${pod.metadata.name}/status`, { status: { conditions: [condition] } }, 'application/strategic-merge-patch+json');
}

async function scheduleOnce(client: ApiClient, schedulerName: string, log: Logger): Promise<void> {
  const pending = (podList.parse(await client.call('GET', `/api/v1/pods?fieldSelector=${pendingSelector}`)).items ?? []).filter(
    (p) => !p.metadata.deletionTimestamp && (p.spec.schedulerName ?? 'default-scheduler') === schedulerName,
  );
  if (pending.length === 0) return;
  const nodes = nodeList.parse(await client.call('GET', '/api/v1/nodes')).items ?? [];
  const assigned = podList.parse(await client.call('GET', `/api/v1/pods?fieldSelector=${assignedSelector}`)).items ?? [];
  const usage = usageByNode(assigned);
  const placed = placedPods(assigned, nodes);
  for (const pod of pending) {
    const ns = pod.metadata.namespace ?? 'default';
    const result = place(pod, nodes, usage, placed);
    if ('unschedulable' in result) {
      await markUnschedulable(client, pod, result.unschedulable);
      continue;
    }
    try {
      await client.call('POST', `/api/v1/namespaces/${ns}/pods/${pod.metadata.name}/binding`, {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: pod.metadata.name, namespace: ns },
        target: { apiVersion: 'v1', kind: 'Node', name: result.node },
      });
      log.info(`pod ${ns}/${pod.metadata.name} is bound successfully on node ${result.node}, ${nodes.length} nodes evaluated`);
      // Count the pod where it went, so the next pending pod of this round sees it.
      addUsage(usage, result.node, pod);
      placed.push(...placedPods([{ ...pod, spec: { ...pod.spec, nodeName: result.node } }], nodes));
    } catch (err) {
      // Bound or deleted meanwhile: the next round sees the new state.
      if (!(err instanceof ApiError && (err.status === 409 || err.status === 404))) throw err;
    }
  }
}

export function startScheduling(client: ApiClient, log: Logger, schedulerName: string): ControllerLoop {
  return runController('scheduler', client, log, ['/api/v1/pods'], () => scheduleOnce(client, schedulerName, log), SCHEDULER_RESYNC_MS);
}
