/**
 * The scheduling loop while this scheduler leads: pending pods (no node, not finished, this
 * scheduler's name) are bound one at a time to the best feasible node through pods/binding; a pod
 * that fits nowhere gets PodScheduled=False/Unschedulable with the reasons, written only when they
 * change. Driven by a watch on pods, as v1.13's informers drive it: a round runs when a pod
 * changes, and at least every RESYNC_SECONDS (nodes that become Ready or free are seen then).
 */
import { z } from 'zod';
import { ApiError, type ApiClient } from '../common/client.js';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/klog.js';
import { kubeTime } from '../common/objects.js';
import { addUsage, nodeSchema, place, placedPods, podSchema, usageByNode, type Pod } from './placement.js';

const RESYNC_SECONDS = 30;
const RETRY_MS = 1000;
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

export function startScheduling(client: ApiClient, log: Logger, schedulerName: string): { stop(): void } {
  let stopped = false;
  let running = false;
  let again = false;
  let watch: { stop(): void } | undefined;
  let retry: NodeJS.Timeout | undefined;
  // One round at a time; events during a round ask for one more.
  const round = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await scheduleOnce(client, schedulerName, log).catch((err: unknown) => log.error(`scheduling round failed, will retry: ${messageOf(err)}`));
      } while (again && !stopped);
    } finally {
      running = false;
    }
  };
  const cycle = async (): Promise<void> => {
    await round();
    if (stopped) return;
    const w = client.watch(`/api/v1/pods?watch=1&timeoutSeconds=${RESYNC_SECONDS}`, () => void round());
    watch = w;
    const failed = await w.done.then(
      () => false,
      (err: unknown) => {
        log.warning(`watch of pods ended, resyncing: ${messageOf(err)}`);
        return true;
      },
    );
    if (stopped) return;
    if (failed) retry = setTimeout(() => void cycle(), RETRY_MS);
    else void cycle();
  };
  void cycle();
  return {
    stop() {
      stopped = true;
      watch?.stop();
      if (retry) clearTimeout(retry);
    },
  };
}
