/**
 * The node controllers: node IPAM (a podCIDR per node from --cluster-cidr with
 * --allocate-node-cidrs) and node lifecycle (Ready=Unknown once a kubelet stops posting status for
 * --node-monitor-grace-period), polled every --node-monitor-period.
 */
import type { ApiClient } from '../common/client.js';
import { intToIpv4, networkOf, type Cidr } from '../common/cidr.js';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/klog.js';
import { kubeTime, nodeListSchema } from '../common/objects.js';

export interface NodeControllerOptions {
  ipam: boolean;
  lifecycle: boolean;
  allocateNodeCidrs: boolean;
  clusterCidr?: Cidr | undefined;
  nodeCidrMaskSize: number;
  nodeMonitorPeriodMs: number;
  nodeMonitorGracePeriodMs: number;
}

export function startNodeControllers(client: ApiClient, log: Logger, opts: NodeControllerOptions): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const sync = async () => {
    const nodes = nodeListSchema.parse(await client.call('GET', '/api/v1/nodes')).items ?? [];
    if (opts.ipam && opts.allocateNodeCidrs && opts.clusterCidr) {
      const c = opts.clusterCidr;
      const size = 2 ** (32 - opts.nodeCidrMaskSize);
      const base = networkOf(c);
      const used = new Set(nodes.map((n) => n.spec?.podCIDR).filter((x): x is string => !!x));
      for (const node of nodes.filter((n) => !n.spec?.podCIDR)) {
        let cidr: string | undefined;
        for (let i = 0; i < 2 ** (opts.nodeCidrMaskSize - c.bits); i++) {
          const candidate = `${intToIpv4(base + i * size)}/${opts.nodeCidrMaskSize}`;
          if (!used.has(candidate)) {
            cidr = candidate;
            break;
          }
        }
        if (!cidr) {
          log.error(`Error allocating CIDR for node ${node.metadata.name}: CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range`);
          continue;
        }
        used.add(cidr);
        await client.call('PATCH', `/api/v1/nodes/${node.metadata.name}`, { spec: { podCIDR: cidr } }, 'application/strategic-merge-patch+json');
        log.info(`Set node ${node.metadata.name} PodCIDR to ${cidr}`);
      }
    }
    const now = Date.now();
    for (const node of opts.lifecycle ? nodes : []) {
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
      if (!ready || ready.status === 'Unknown' || !ready.lastHeartbeatTime) continue;
      if (now - Date.parse(ready.lastHeartbeatTime) <= opts.nodeMonitorGracePeriodMs) continue;
      const at = kubeTime();
      await client.call(
        'PATCH',
        `/api/v1/nodes/${node.metadata.name}/status`,
        { status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: ready.lastHeartbeatTime, lastTransitionTime: at }] } },
        'application/strategic-merge-patch+json',
      );
      log.info(`Node ${node.metadata.name} hasn't been updated for longer than the grace period; marking it Unknown`);
    }
  };
  const loop = () => {
    void sync()
      .catch((err: unknown) => log.error(`node controllers: ${messageOf(err)}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, opts.nodeMonitorPeriodMs);
      });
  };
  loop();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
