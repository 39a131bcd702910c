/**
 * The default/kubernetes Service and its Endpoints, kept as v1.13's bootstrap controller keeps them
 * with --endpoint-reconciler-type=lease (the default): every apiserver holds a 15 s etcd lease on
 * /registry/masterleases/<its address>, and the Endpoints list the addresses whose leases are alive.
 */
import { parseCidr, intToIpv4, networkOf } from '../common/cidr.js';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/klog.js';
import type { EtcdClient } from './etcd.js';
import { Registry, StatusError, type Obj } from './registry.js';
import { findResource } from './resources.js';

const LEASE_TTL_SECONDS = 15;
const INTERVAL_MS = 10_000;

export interface MasterLeaseConfig {
  etcd: EtcdClient;
  registry: Registry;
  prefix: string;
  advertiseAddress: string;
  securePort: number;
  serviceClusterIPRange: string;
  log: Logger;
}

/** The first address of the service range: the kubernetes Service's cluster IP. */
export function kubernetesServiceIP(range: string): string | undefined {
  const c = parseCidr(range);
  return c && c.family === 4 ? intToIpv4(networkOf(c) + 1) : undefined;
}

export function startMasterLeases(cfg: MasterLeaseConfig): { stop(): void } {
  const services = findResource('services')!;
  const endpoints = findResource('endpoints')!;
  const port = { name: 'https', port: cfg.securePort, protocol: 'TCP' };

  const ensureService = async () => {
    if (await cfg.registry.exists(services, 'default', 'kubernetes')) return;
    const clusterIP = kubernetesServiceIP(cfg.serviceClusterIPRange);
    const service: Obj = {
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { type: 'ClusterIP', ...(clusterIP ? { clusterIP } : {}), sessionAffinity: 'None', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: cfg.securePort }] },
    };
    try {
      await cfg.registry.create(services, 'default', service);
    } catch (err) {
      if (!(err instanceof StatusError && err.reason === 'AlreadyExists')) throw err;
    }
  };

  const reconcile = async () => {
    const lease = await cfg.etcd.grantLease(LEASE_TTL_SECONDS);
    await cfg.etcd.putWithLease(`${cfg.prefix}/masterleases/${cfg.advertiseAddress}`, JSON.stringify({ ip: cfg.advertiseAddress }), lease);
    const { kvs } = await cfg.etcd.list(`${cfg.prefix}/masterleases/`);
    const ips = kvs.map((kv) => kv.key.slice(`${cfg.prefix}/masterleases/`.length)).sort();
    await ensureService();
    const subsets = [{ addresses: ips.map((ip) => ({ ip })), ports: [port] }];
    // Written only when they differ, as v1.13's lease reconciler does: an unchanged write every
    // 10 s from every apiserver would be a raft proposal (and a WAL fsync on each member) for nothing.
    const current = await cfg.registry.get(endpoints, 'default', 'kubernetes').catch((err: unknown) => {
      if (err instanceof StatusError && err.reason === 'NotFound') return undefined;
      throw err;
    });
    if (current !== undefined && JSON.stringify(current['subsets']) === JSON.stringify(subsets)) return;
    await cfg.registry
      .patch(endpoints, 'default', 'kubernetes', (current) => ({ ...current, subsets }))
      .catch(async (err: unknown) => {
        if (!(err instanceof StatusError && err.reason === 'NotFound')) throw err;
        await cfg.registry.create(endpoints, 'default', { metadata: { name: 'kubernetes', namespace: 'default' }, subsets });
      });
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    void reconcile()
      .catch((err: unknown) => cfg.log.error(`Unable to reconcile the kubernetes service endpoints: ${messageOf(err)}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, INTERVAL_MS);
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
