/**
 * The `ssh-keys` role, first play of cluster.yml: on every host that does not accept the cluster
 * key yet, create the key pair if absent, authorize it for the login user and move the run onto a
 * connection that logged in with it.
 */
import path from 'node:path';
import { KprovError } from '../../errors.js';
import { clusterKeyPath, ensureClusterKey, loadClusterKey } from '../../ssh/cluster-key.js';
import { distributeClusterKey } from '../../ssh/key-distribution.js';
import { SshRemoteHost } from '../../ssh/remote-host.js';
import type { Change } from '../../engine/contract.js';
import type { ClusterRole, ClusterTask } from '../../cluster/run.js';

const authorizeClusterKey: ClusterTask = {
  name: 'authorize the cluster SSH key',
  async check(host, ctx) {
    if (!(host instanceof SshRemoteHost)) {
      ctx.warn('not an SSH connection: the cluster key cannot be checked');
      return [];
    }
    // The connection tried the cluster key first: if it logged in with it, the host accepts it.
    if (host.loginMethod === 'cluster-key') return [];
    const { user, keyType } = host.config;
    const key = await loadClusterKey(ctx.inventory.dir, keyType);
    const which = key
      ? `${key.fingerprint} (${path.relative(ctx.inventory.dir, key.privateKeyPath)})`
      : `${path.relative(ctx.inventory.dir, clusterKeyPath(ctx.inventory.dir, keyType))} (to be created)`;
    const change: Change = {
      kind: 'custom',
      summary: `authorize the cluster key ${which} in ${user}'s ~/.ssh/authorized_keys, then log in with it`,
    };
    return [change];
  },
  async apply(host, _changes, ctx) {
    if (!(host instanceof SshRemoteHost)) throw new KprovError('internal', 'ssh-keys needs an SSH connection', { host: host.name });
    // Created by the first host that needs it (ensureClusterKey is safe to race), so a run
    // where every host already accepts the key never touches credentials/.
    const { key } = await ensureClusterKey(ctx.inventory.dir, host.config.keyType);
    await distributeClusterKey(host, key);
  },
};

export const sshKeysRole: ClusterRole = {
  name: 'ssh-keys',
  tags: ['ssh-keys'],
  tasks: () => [authorizeClusterKey],
};
