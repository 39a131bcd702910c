/**
 * Services as v1.13's service REST storage keeps them: defaulting (type ClusterIP, sessionAffinity
 * None, protocol TCP, targetPort = port, externalTrafficPolicy Cluster for node ports), validation,
 * a cluster IP from --service-cluster-ip-range (or the requested one, if in range and free; `None`
 * for headless), node ports from --service-node-port-range for NodePort/LoadBalancer, spec.clusterIP
 * immutable, and everything given back when a service goes.
 */
import { intToIpv4, ipv4ToInt, networkOf, parseCidr } from '../common/cidr.js';
import type { EtcdClient } from './etcd.js';
import { AlreadyAllocated, RangeAllocator, RangeFull } from './range-allocator.js';
import { StatusError, type Obj, type Registry, type Strategy } from './registry.js';
import { findResource } from './resources.js';

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {});
const arr = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(rec) : []);

export interface ServiceRanges {
  clusterIPRange: string;
  nodePorts: { base: number; size: number };
}

const invalid = (name: string, causes: string[]) =>
  new StatusError(422, 'Invalid', `Service "${name}" is invalid: ${causes.length === 1 ? causes[0]! : `[${causes.join(', ')}]`}`, {
    name,
    kind: 'Service',
    causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.slice(c.indexOf(': ') + 2), field: c.slice(0, c.indexOf(': ')) })),
  });

const usesNodePorts = (type: unknown) => type === 'NodePort' || type === 'LoadBalancer';

/** Defaults and validation causes of a service spec (no allocation). */
export function defaultService(spec: Rec): { spec: Rec; causes: string[] } {
  const causes: string[] = [];
  const type = typeof spec.type === 'string' && spec.type !== '' ? spec.type : 'ClusterIP';
  if (!['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'].includes(type)) causes.push(`spec.type: Unsupported value: "${type}": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`);
  const ports = arr(spec.ports).map((p): Rec & { protocol: string } => ({ ...p, protocol: typeof p.protocol === 'string' && p.protocol !== '' ? p.protocol : 'TCP', targetPort: p.targetPort ?? p.port }));
  if (ports.length === 0 && type !== 'ExternalName') causes.push('spec.ports: Required value');
  const names = new Set<string>();
  ports.forEach((p, i) => {
    if (typeof p.port !== 'number' || !Number.isInteger(p.port) || p.port < 1 || p.port > 65535) causes.push(`spec.ports[${i}].port: Invalid value: ${JSON.stringify(p.port ?? 0)}: must be between 1 and 65535, inclusive`);
    if (!['TCP', 'UDP', 'SCTP'].includes(p.protocol)) causes.push(`spec.ports[${i}].protocol: Unsupported value: "${p.protocol}": supported values: "TCP", "UDP"`);
    const name = typeof p.name === 'string' ? p.name : '';
    if (ports.length > 1 && name === '') causes.push(`spec.ports[${i}].name: Required value`);
    if (name !== '' && names.has(name)) causes.push(`spec.ports[${i}].name: Duplicate value: "${name}"`);
    names.add(name);
    if (p.nodePort !== undefined && p.nodePort !== 0 && !usesNodePorts(type)) causes.push(`spec.ports[${i}].nodePort: Forbidden: may not be used when \`type\` is '${type}'`);
  });
  const out: Rec = { ...spec, type, sessionAffinity: spec.sessionAffinity ?? 'None' };
  if (type !== 'ExternalName') out.ports = ports;
  if (usesNodePorts(type)) out.externalTrafficPolicy = spec.externalTrafficPolicy ?? 'Cluster';
  return { spec: out, causes };
}

export function serviceStrategy(etcd: EtcdClient, registry: Registry, prefix: string, ranges: ServiceRanges): Strategy {
  const cidr = parseCidr(ranges.clusterIPRange)!;
  // v1.13's ipallocator: offsets from the network address + 1, network and broadcast excluded.
  const ipBase = networkOf(cidr) + 1;
  const ipSize = Math.max(0, 2 ** cidr.hostBits - 2);
  const services = findResource('services')!;
  const all = async () => (await registry.list(services, undefined)).items.map((s) => rec(s.spec));
  const ips = new RangeAllocator(etcd, `${prefix}/ranges/serviceips`, ranges.clusterIPRange, ipSize, async () =>
    (await all()).map((s) => (typeof s.clusterIP === 'string' && parseCidr(`${s.clusterIP}/32`) ? ipv4ToInt(s.clusterIP) - ipBase : -1)),
  );
  const { base: portBase, size: portSize } = ranges.nodePorts;
  const portLabel = `${portBase}-${portBase + portSize - 1}`;
  const ports = new RangeAllocator(etcd, `${prefix}/ranges/servicenodeports`, portLabel, portSize, async () =>
    (await all()).flatMap((s) => arr(s.ports).map((p) => (typeof p.nodePort === 'number' ? p.nodePort - portBase : -1))),
  );

  const ipOffset = (ip: string) => (parseCidr(`${ip}/32`)?.family === 4 ? ipv4ToInt(ip) - ipBase : -1);
  const nodePortsOf = (spec: Rec) => new Set(arr(spec.ports).map((p) => p.nodePort).filter((n): n is number => typeof n === 'number' && n > 0));
  const taken = new WeakMap<Obj, { ip?: number; ports: number[] }>();

  const giveBack = async (ip: number | undefined, nodePorts: Iterable<number>) => {
    if (ip !== undefined) await ips.release(ip);
    for (const p of nodePorts) await ports.release(p - portBase);
  };

  /** Node ports for the service's ports: kept from `keep` (same port and protocol), requested, or new. */
  const allocateNodePorts = async (name: string, spec: Rec, previous: Rec | undefined, got: number[]): Promise<Rec[]> => {
    const held = previous ? arr(previous.ports) : [];
    const heldNumbers = nodePortsOf(previous ?? {});
    const out: Rec[] = [];
    for (const [i, p] of arr(spec.ports).entries()) {
      let nodePort = typeof p.nodePort === 'number' && p.nodePort > 0 ? p.nodePort : undefined;
      if (nodePort === undefined) {
        const same = held.find((h) => h.port === p.port && h.protocol === p.protocol && typeof h.nodePort === 'number');
        if (same) nodePort = same.nodePort as number;
      }
      if (nodePort !== undefined && heldNumbers.has(nodePort)) {
        out.push({ ...p, nodePort });
        continue;
      }
      try {
        if (nodePort !== undefined) {
          if (nodePort < portBase || nodePort >= portBase + portSize) throw invalid(name, [`spec.ports[${i}].nodePort: Invalid value: ${nodePort}: provided port is not in the valid range. The range of valid ports is ${portLabel}`]);
          await ports.allocate(nodePort - portBase);
        } else nodePort = portBase + (await ports.allocate());
      } catch (err) {
        if (err instanceof AlreadyAllocated) throw invalid(name, [`spec.ports[${i}].nodePort: Invalid value: ${nodePort ?? 0}: provided port is already allocated`]);
        if (err instanceof RangeFull) throw new StatusError(500, 'InternalError', `Internal error occurred: failed to allocate a nodePort: range is full`);
        throw err;
      }
      got.push(nodePort);
      out.push({ ...p, nodePort });
    }
    return out;
  };

  return {
    async prepareForCreate(obj) {
      const name = String(obj.metadata?.name ?? '');
      const { spec, causes } = defaultService(rec(obj.spec));
      if (causes.length > 0) throw invalid(name, causes);
      const got: { ip?: number; ports: number[] } = { ports: [] };
      try {
        if (spec.type !== 'ExternalName' && spec.clusterIP !== 'None') {
          const requested = typeof spec.clusterIP === 'string' && spec.clusterIP !== '' ? spec.clusterIP : undefined;
          if (requested !== undefined) {
            const offset = ipOffset(requested);
            if (offset < 0 || offset >= ipSize) throw invalid(name, [`spec.clusterIP: Invalid value: "${requested}": provided IP is not in the valid range. The range of valid IPs is ${ranges.clusterIPRange}`]);
            try {
              await ips.allocate(offset);
            } catch (err) {
              if (err instanceof AlreadyAllocated) throw invalid(name, [`spec.clusterIP: Invalid value: "${requested}": provided IP is already allocated`]);
              throw err;
            }
            got.ip = offset;
          } else {
            try {
              got.ip = await ips.allocate();
            } catch (err) {
              if (err instanceof RangeFull) throw new StatusError(500, 'InternalError', 'Internal error occurred: failed to allocate a serviceIP: range is full');
              throw err;
            }
            spec.clusterIP = intToIpv4(ipBase + got.ip);
          }
        }
        if (usesNodePorts(spec.type)) spec.ports = await allocateNodePorts(name, spec, undefined, got.ports);
      } catch (err) {
        await giveBack(got.ip, got.ports);
        throw err;
      }
      const out: Obj = { ...obj, spec, status: { loadBalancer: {} } };
      taken.set(out, got);
      return out;
    },
    async createFailed(obj) {
      const got = taken.get(obj);
      if (got) await giveBack(got.ip, got.ports);
    },
    async prepareForUpdate(next, current) {
      const name = String(current.metadata?.name ?? '');
      const before = rec(current.spec);
      const { spec, causes } = defaultService(rec(next.spec));
      if (spec.clusterIP === undefined || spec.clusterIP === '') spec.clusterIP = before.clusterIP;
      if (spec.clusterIP !== before.clusterIP) causes.push(`spec.clusterIP: Invalid value: "${String(spec.clusterIP)}": field is immutable`);
      if (causes.length > 0) throw invalid(name, causes);
      if (usesNodePorts(spec.type)) {
        const got: number[] = [];
        try {
          spec.ports = await allocateNodePorts(name, spec, before, got);
        } catch (err) {
          await giveBack(undefined, got);
          throw err;
        }
      } else {
        spec.ports = arr(spec.ports).map(({ nodePort: _dropped, ...p }) => p);
        delete spec.externalTrafficPolicy;
      }
      return { ...next, spec };
    },
    async updateFailed(next, current) {
      const held = nodePortsOf(rec(current.spec));
      await giveBack(undefined, [...nodePortsOf(rec(next.spec))].filter((p) => !held.has(p)));
    },
    async written(before, after) {
      const was = rec(before?.spec);
      const now = rec(after?.spec);
      const kept = nodePortsOf(now);
      const freedPorts = [...nodePortsOf(was)].filter((p) => !kept.has(p));
      const freedIp = after === undefined && typeof was.clusterIP === 'string' && was.clusterIP !== 'None' && was.clusterIP !== '' ? ipOffset(was.clusterIP) : undefined;
      await giveBack(freedIp !== undefined && freedIp >= 0 ? freedIp : undefined, freedPorts);
    },
  };
}
