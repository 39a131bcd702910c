/**
 * The lab network: a namespace holding a bridge and nothing else (no default route, forwarding
 * off), and per host a namespace whose eth0 is one end of a veth pair plugged into that bridge.
 * Nothing is ever created in the root namespace, so a wrong address can only fail.
 */
import { access } from 'node:fs/promises';
import { KprovError } from '../errors.js';
import { BRIDGE_ADDRESS, BRIDGE_NAME, LAB_PREFIX_LENGTH, checkInterfaceName } from './names.js';
import { run } from './run.js';

export function netnsPath(namespace: string): string {
  return `/run/netns/${namespace}`;
}

export async function namespaceExists(namespace: string): Promise<boolean> {
  return access(netnsPath(namespace)).then(
    () => true,
    () => false,
  );
}

async function ip(args: readonly string[]): Promise<void> {
  await run('ip', args, { timeoutMs: 30_000 });
}

/** Several `ip` commands in one namespace with one process; stops at the first that fails. */
async function ipBatch(namespace: string, commands: readonly (readonly string[])[]): Promise<void> {
  await run('ip', ['-n', namespace, '-batch', '-'], { input: `${commands.map((c) => c.join(' ')).join('\n')}\n`, timeoutMs: 30_000 });
}

export async function createLabNetwork(namespace: string): Promise<void> {
  await ip(['netns', 'add', namespace]);
  await ipBatch(namespace, [
    ['link', 'set', 'lo', 'up'],
    ['link', 'add', checkInterfaceName(BRIDGE_NAME), 'type', 'bridge'],
    ['addr', 'add', `${BRIDGE_ADDRESS}/${LAB_PREFIX_LENGTH}`, 'dev', BRIDGE_NAME],
    ['link', 'set', BRIDGE_NAME, 'up'],
  ]);
  // New namespaces start with forwarding off; say so explicitly, it is what keeps traffic in.
  // (/proc/sys/net belongs to the opener's namespace, so nsenter suffices: no /sys remount.)
  await run('nsenter', [`--net=${netnsPath(namespace)}`, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0', 'net.ipv6.conf.all.forwarding=0']);
  const routes = await run('ip', ['-n', namespace, 'route', 'show', 'default']);
  if (routes.stdout.trim() !== '') {
    throw new KprovError('lab', `lab namespace ${namespace} has a default route; refusing to continue`);
  }
}

/**
 * Creates the host's namespace and its link to the bridge. The host's default route points at
 * the bridge, where the lab namespace drops everything not for the lab: programs that look for a
 * default route (kubelet, kube-apiserver) find one, and nothing can leave.
 */
export async function createHostNetwork(labNs: string, hostNs: string, veth: string, address: string): Promise<void> {
  await ip(['netns', 'add', hostNs]);
  await ipBatch(labNs, [
    ['link', 'add', checkInterfaceName(veth), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', hostNs],
    ['link', 'set', veth, 'master', BRIDGE_NAME, 'up'],
  ]);
  await ipBatch(hostNs, [
    ['link', 'set', 'lo', 'up'],
    ['addr', 'add', `${address}/${LAB_PREFIX_LENGTH}`, 'dev', 'eth0'],
    ['link', 'set', 'eth0', 'up'],
    ['route', 'add', 'default', 'via', BRIDGE_ADDRESS],
  ]);
}

/** Deleting a namespace also deletes its interfaces; a missing one is already deleted. */
export async function deleteNamespace(namespace: string): Promise<void> {
  if (!(await namespaceExists(namespace))) return;
  await ip(['netns', 'delete', namespace]);
}

/** Interfaces (other than lo) in a namespace, for status and checks. */
export async function interfacesIn(namespace: string): Promise<string[]> {
  if (!(await namespaceExists(namespace))) return [];
  const r = await run('ip', ['-n', namespace, '-o', 'link', 'show'], { allowFailure: true });
  return r.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined && n !== 'lo');
}
