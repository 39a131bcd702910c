/**
 * Which slice of kube_pods_subnet each node has, kept in the inventory directory
 * (`state/pod-cidrs.json`) like the PKI: a node keeps its slice however the inventory is reordered
 * or shortened, a new node takes the lowest free slice, and a host that leaves the inventory
 * releases its slice. Without the file (clusters built before it existed, or a fresh inventory)
 * the slices follow definition order, as they always did.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { KprovError } from '../errors.js';
import { formatIp, netSize, networkOf, parseIpNet } from '../inventory/ipaddr.js';

export const POD_CIDRS_FILE = path.join('state', 'pod-cidrs.json');

const fileSchema = z.object({ nodes: z.record(z.string(), z.string()) });

/** Node name → CIDR, as the inventory directory remembers them ({} when there is no record yet). */
export type PodCidrRecord = Readonly<Record<string, string>>;

export function readPodCidrs(inventoryDir: string): PodCidrRecord {
  const file = path.join(inventoryDir, POD_CIDRS_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new KprovError('inventory', `cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: z.infer<typeof fileSchema>;
  try {
    parsed = fileSchema.parse(JSON.parse(text));
  } catch {
    throw new KprovError('inventory', `${file} is not kprov's record of the nodes' pod CIDRs`, {
      hint: 'restore it from version control; deleting it makes the slices follow the inventory order again',
    });
  }
  return parsed.nodes;
}

/** Writes the record atomically (a new file renamed over the old). */
export function writePodCidrs(inventoryDir: string, record: PodCidrRecord): void {
  const file = path.join(inventoryDir, POD_CIDRS_FILE);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify({ nodes: record }, null, 2)}\n`);
  renameSync(tmp, file);
}

interface Slicing {
  base: bigint;
  size: bigint;
  count: bigint;
  version: 4 | 6;
  prefix: number;
}

function slicing(subnet: string, prefix: number): Slicing {
  const parsed = parseIpNet(subnet);
  if (!parsed) throw new KprovError('inventory', `kube_pods_subnet ${subnet} is not a CIDR`);
  const net = parsed.net;
  if (prefix < net.prefix) throw new KprovError('inventory', `kube_network_node_prefix ${prefix} is shorter than kube_pods_subnet ${subnet}`);
  const size = netSize({ ...net, prefix });
  return { base: networkOf(net), size, count: netSize(net) / size, version: net.version, prefix };
}

/** The slice index of `cidr` in the slicing, or undefined when it is not one of its slices. */
function indexOf(s: Slicing, cidr: string): bigint | undefined {
  const parsed = parseIpNet(cidr);
  if (!parsed || parsed.net.version !== s.version || parsed.net.prefix !== s.prefix) return undefined;
  const offset = parsed.net.ip - s.base;
  if (offset < 0n || offset % s.size !== 0n || offset / s.size >= s.count) return undefined;
  return offset / s.size;
}

/**
 * One slice per node, in the nodes' order: the recorded slice when it is still a valid, unused
 * slice of the subnet (a changed kube_pods_subnet or prefix invalidates the record), else the
 * lowest free one. Hosts not among `nodes` are dropped from the result.
 */
export function allocatePodCidrs(nodes: readonly string[], recorded: PodCidrRecord, subnet: string, prefix: number): Map<string, string> {
  const s = slicing(subnet, prefix);
  const taken = new Set<bigint>();
  const kept = new Map<string, bigint>();
  for (const name of nodes) {
    const cidr = recorded[name];
    const index = cidr === undefined ? undefined : indexOf(s, cidr);
    if (index !== undefined && !taken.has(index)) {
      kept.set(name, index);
      taken.add(index);
    }
  }
  const out = new Map<string, string>();
  let next = 0n;
  for (const name of nodes) {
    let index = kept.get(name);
    if (index === undefined) {
      while (taken.has(next)) next++;
      if (next >= s.count) {
        throw new KprovError('inventory', `kube_pods_subnet ${subnet} has room for ${s.count} nodes of /${prefix}; node ${name} does not fit`, {
          hint: 'widen kube_pods_subnet or raise kube_network_node_prefix',
        });
      }
      index = next;
      taken.add(index);
    }
    out.set(name, `${formatIp(s.version, s.base + index * s.size)}/${prefix}`);
  }
  return out;
}

/** Whether `allocation` says something `recorded` does not (a new node, a released one, a moved one). */
export function recordDiffers(recorded: PodCidrRecord, allocation: ReadonlyMap<string, string>): boolean {
  const names = Object.keys(recorded);
  return names.length !== allocation.size || names.some((n) => recorded[n] !== allocation.get(n));
}
