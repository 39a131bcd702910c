import { isIP } from 'node:net';
import { KprovError } from '../errors.js';

/** How many hosts go to the control plane and etcd, as Kubespray's inventory builder does. */
const CONTROL_PLANE_SIZE = 3;

export interface BuiltHost {
  name: string;
  address: string;
}

/** Names hosts node1…nodeN in the order their addresses were given. */
export function nameHosts(addresses: readonly string[]): BuiltHost[] {
  return addresses.map((address, i) => ({ name: `node${i + 1}`, address }));
}

/**
 * Parses `--hosts 10.0.0.1,10.0.0.2`: comma-separated IPv4/IPv6 addresses or DNS names, no
 * duplicates.
 */
export function parseHostList(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) {
    throw new KprovError('usage', '--hosts needs at least one address', {
      hint: 'for example: --hosts 10.0.0.11,10.0.0.12,10.0.0.13',
    });
  }
  const seen = new Set<string>();
  for (const item of items) {
    if (!isIP(item) && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(item)) {
      throw new KprovError('usage', `--hosts: "${item}" is not an IP address or host name`);
    }
    if (seen.has(item)) throw new KprovError('usage', `--hosts: "${item}" is listed twice`);
    seen.add(item);
  }
  return items;
}

/**
 * The inventory.ini Kubespray's inventory builder writes for a list of addresses: every host
 * under [all] with ansible_host/ip/access_ip, the first three in kube_control_plane and etcd,
 * every host in kube_node, and k8s_cluster as the parent of both.
 */
export function renderInventoryIni(hosts: readonly BuiltHost[], header?: string): string {
  const lines: string[] = [];
  if (header) for (const l of header.split('\n')) lines.push(l === '' ? '#' : `# ${l}`);
  const controlPlane = hosts.slice(0, Math.min(CONTROL_PLANE_SIZE, hosts.length));
  const ipOf = (h: BuiltHost) => (isIP(h.address) ? ` ip=${h.address} access_ip=${h.address}` : '');
  lines.push('[all]');
  for (const h of hosts) lines.push(`${h.name} ansible_host=${h.address}${ipOf(h)}`);
  lines.push('', '[kube_control_plane]', ...controlPlane.map((h) => h.name));
  lines.push('', '[etcd]', ...controlPlane.map((h) => h.name));
  lines.push('', '[kube_node]', ...hosts.map((h) => h.name));
  lines.push('', '[k8s_cluster:children]', 'kube_control_plane', 'kube_node', '');
  return lines.join('\n');
}
