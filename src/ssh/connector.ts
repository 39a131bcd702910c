/**
 * The engine's entry to the SSH layer: one connection per host for the whole run, opened on first
 * use with bounded concurrency, through the bastion when the inventory has one.
 */
import path from 'node:path';
import type { Duplex } from 'node:stream';
import pLimit from 'p-limit';
import { KprovError } from '../errors.js';
import type { InventoryHost } from '../inventory/model.js';
import { ensureClusterKey, loadClusterKey, type ClusterKey } from './cluster-key.js';
import { openConnection, type AuthCandidate } from './connection.js';
import { passwordLookup } from './credentials.js';
import type { SshEvent, SshEventSink } from './events.js';
import { clusterKeyType, sshHostConfig, type ClusterKeyType, type SshHostConfig } from './host-config.js';
import { KnownHostsFile } from './known-hosts.js';
import { SshRemoteHost } from './remote-host.js';
import { Session } from './session.js';

export interface ConnectorInventory {
  dir: string;
  hosts: InventoryHost[];
  groups: Record<string, string[]>;
}

/**
 * Checked once before the first connection of a run; throws to refuse every connection. The CLI
 * passes the lab's guard (a lab inventory's hosts are reachable only inside the lab's network
 * namespace, so connecting from anywhere else must fail before a packet leaves).
 */
export type NetworkGuard = (inventoryDir: string) => Promise<void>;

export interface ConnectorOptions {
  /** Required so no caller can forget it; `noNetworkGuard` where nothing needs guarding. */
  networkGuard: NetworkGuard;
  /** How many logins may be in progress at once (default 20). */
  concurrency?: number;
  /** Bound on TCP connect + handshake + login (default 10 s). */
  connectTimeoutMs?: number;
  /** Default bound on each remote command (default 10 min). */
  commandTimeoutMs?: number;
  /** SSH keepalive interval (default 5 s; three unanswered ones close the connection). */
  keepaliveIntervalMs?: number;
  onEvent?: (e: SshEvent) => void;
  /** Interactive password prompt without echo; pass it only when stdin is a terminal. */
  password?: () => Promise<string | undefined>;
  /** Where $KPROV_SSH_PASSWORD and $SSH_AUTH_SOCK are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface Connector {
  /**
   * The host's one connection for this run (opened on first call; a failure is remembered).
   * Takes the host's name or the inventory host itself.
   */
  connect(host: string | { readonly name: string }): Promise<SshRemoteHost>;
  closeAll(): Promise<void>;
  /** SSH handshakes started per host in this run. */
  stats(): { handshakes: Record<string, number> };
  /** The cluster key if it exists (loaded once). */
  clusterKey(): Promise<ClusterKey | undefined>;
  /** The cluster key, created now if absent; later logins try it first. */
  ensureClusterKey(): Promise<{ key: ClusterKey; created: boolean }>;
  readonly knownHostsFile: string;
  readonly keyType: ClusterKeyType;
  hostConfig(hostName: string): SshHostConfig;
}

export const BASTION_GROUP = 'bastion';

export function knownHostsPath(inventoryDir: string): string {
  return path.join(inventoryDir, 'known_hosts');
}

export const noNetworkGuard: NetworkGuard = async () => {};

export function createConnector(inventory: ConnectorInventory, options: ConnectorOptions): Connector {
  const dir = path.resolve(inventory.dir);
  const configs = new Map<string, SshHostConfig>();
  for (const host of inventory.hosts) configs.set(host.name, sshHostConfig(host, dir));
  const keyType = clusterKeyType([...configs.values()]);
  const bastionName = inventory.groups[BASTION_GROUP]?.[0];
  if (bastionName !== undefined && !configs.has(bastionName)) {
    throw new KprovError('inventory', `the bastion group names ${bastionName}, which is not a host of the inventory`);
  }

  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const commandTimeoutMs = options.commandTimeoutMs ?? 600_000;
  const keepaliveIntervalMs = options.keepaliveIntervalMs ?? 5_000;
  const onEvent: SshEventSink = options.onEvent ?? (() => undefined);
  const env = options.env ?? process.env;
  const knownHosts = new KnownHostsFile(knownHostsPath(dir));
  const passwords = passwordLookup({ inventoryDir: dir, env, prompt: options.password });
  const logins = pLimit(options.concurrency ?? 20);
  const handshakes: Record<string, number> = {};
  const hosts = new Map<string, Promise<SshRemoteHost>>();
  let clusterKey: Promise<ClusterKey | undefined> | undefined;

  // A found key is kept; an absent one is looked for again, since a role may create it mid-run.
  const loadKey = async (): Promise<ClusterKey | undefined> => {
    const pending = (clusterKey ??= loadClusterKey(dir, keyType));
    const key = await pending.catch((err: unknown) => {
      clusterKey = undefined;
      throw err;
    });
    if (!key && clusterKey === pending) clusterKey = undefined;
    return key;
  };

  const configOf = (hostName: string): SshHostConfig => {
    const config = configs.get(hostName);
    if (!config) throw new KprovError('usage', `no host named ${hostName} in the inventory ${dir}`);
    return config;
  };

  const candidates = async (config: SshHostConfig, mode: 'any' | 'cluster-key-only'): Promise<AuthCandidate[]> => {
    const key = await loadKey();
    if (mode === 'cluster-key-only') {
      if (!key) throw new KprovError('ssh', 'there is no cluster key to log in with', { host: config.name });
      return [{ method: 'cluster-key', key }];
    }
    // Cluster key first (already authorized on later runs), then the bootstrap credentials.
    // The prompt comes last so that a configured key or agent never waits on a person.
    const list: AuthCandidate[] = [];
    if (key) list.push({ method: 'cluster-key', key });
    list.push({ method: 'password', lookup: passwords.stored, interactive: false });
    if (config.privateKeyFile) list.push({ method: 'key-file', path: config.privateKeyFile });
    const agent = env['SSH_AUTH_SOCK'];
    if (agent) list.push({ method: 'agent', socket: agent });
    list.push({ method: 'password', lookup: passwords.prompted, interactive: true });
    return list;
  };

  let namespaceChecked: Promise<void> | undefined;
  const openSession = async (config: SshHostConfig, mode: 'any' | 'cluster-key-only'): Promise<Session> => {
    await (namespaceChecked ??= options.networkGuard(dir));
    const via = bastionName !== undefined && bastionName !== config.name ? bastionName : undefined;
    // The bastion is connected outside the login slots, so a target never holds a slot waiting for it.
    const bastion =
      via === undefined
        ? undefined
        : await connect(via).catch((err: unknown) => {
            const why = err instanceof Error ? err.message : String(err);
            throw new KprovError('ssh', `cannot reach ${config.address} through bastion ${via}: ${why}`, { host: config.name });
          });
    const auth = await candidates(config, mode);
    return logins(async () => {
      handshakes[config.name] = (handshakes[config.name] ?? 0) + 1;
      const started = Date.now();
      const tunnel = bastion ? (): Promise<Duplex> => bastion.forwardOut(config.address, config.port) : undefined;
      const opened = await openConnection({
        config,
        knownHosts,
        candidates: auth,
        timeoutMs: connectTimeoutMs,
        keepaliveIntervalMs,
        keepaliveCountMax: 3,
        ...(tunnel ? { tunnel, via } : {}),
        onEvent,
      });
      onEvent({ type: 'ssh.connected', host: config.name, user: config.user, method: opened.method, via, ms: Date.now() - started });
      return new Session(config.name, opened.client, opened.method);
    });
  };

  const connect = (host: string | { readonly name: string }): Promise<SshRemoteHost> => {
    const hostName = typeof host === 'string' ? host : host.name;
    let pending = hosts.get(hostName);
    if (!pending) {
      pending = (async () => {
        const config = configOf(hostName);
        const session = await openSession(config, 'any');
        return new SshRemoteHost({
          config,
          session,
          open: (mode) => openSession(config, mode),
          commandTimeoutMs,
          onEvent,
        });
      })();
      hosts.set(hostName, pending);
    }
    return pending;
  };

  return {
    connect,
    knownHostsFile: knownHosts.file,
    keyType,
    hostConfig: configOf,
    stats: () => ({ handshakes: { ...handshakes } }),
    clusterKey: loadKey,
    async ensureClusterKey() {
      const result = await ensureClusterKey(dir, keyType);
      clusterKey = Promise.resolve(result.key);
      if (result.created) {
        onEvent({
          type: 'ssh.clusterkey.created',
          path: result.key.privateKeyPath,
          keyType: result.key.type,
          fingerprint: result.key.fingerprint,
        });
      }
      return result;
    },
    async closeAll() {
      const opened = await Promise.allSettled(hosts.values());
      const live = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      // Hosts tunnelled through the bastion go first, the bastion last.
      await Promise.all(live.filter((h) => h.name !== bastionName).map((h) => h.close()));
      await Promise.all(live.filter((h) => h.name === bastionName).map((h) => h.close()));
      hosts.clear();
    },
  };
}
