import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KprovError } from '../../../src/errors.js';
import type { InventoryHost } from '../../../src/inventory/model.js';
import { createConnector, noNetworkGuard } from '../../../src/ssh/connector.js';
import { SshRemoteHost } from '../../../src/ssh/remote-host.js';
import type { Session } from '../../../src/ssh/session.js';
import { sshHostConfig } from '../../../src/ssh/host-config.js';
import { processTempDir } from '../../support/temp-dir.js';

const host = (name: string, vars: Record<string, unknown> = {}): InventoryHost => ({
  name,
  address: `10.99.0.${name.slice(-1)}`,
  groups: ['all'],
  vars,
});

test('inventory problems are found before any connection', () => {
  const dir = processTempDir('kprov-inv-');
  assert.throws(
    () => createConnector({ dir, hosts: [host('node1')], groups: { bastion: ['jump'] } }, { networkGuard: noNetworkGuard }),
    /bastion group names jump, which is not a host/,
  );
  assert.throws(
    () => createConnector({ dir, hosts: [host('node1'), host('node2', { ssh_key_type: 'rsa' })], groups: {} }, { networkGuard: noNetworkGuard }),
    /ssh_key_type differs/,
  );
  assert.throws(() => createConnector({ dir, hosts: [host('node1', { ansible_port: 'x' })], groups: {} }, { networkGuard: noNetworkGuard }), /node1: ansible_port/);
});

test('an unknown host name is a usage error; nothing is counted', async () => {
  const dir = processTempDir('kprov-inv-');
  const connector = createConnector({ dir, hosts: [host('node1')], groups: {} }, { networkGuard: noNetworkGuard });
  await assert.rejects(connector.connect('node9'), (err: unknown) => err instanceof KprovError && err.code === 'usage');
  assert.deepEqual(connector.stats(), { handshakes: {} });
  assert.equal(connector.knownHostsFile, `${dir}/known_hosts`);
  assert.equal(connector.keyType, 'ed25519');
  await connector.closeAll();
});

function remote(vars: Record<string, unknown>): SshRemoteHost {
  return new SshRemoteHost({
    config: sshHostConfig(host('node1', vars), '/inv'),
    // commandFor never touches the session.
    session: {} as Session,
    open: () => Promise.reject(new Error('no network in unit tests')),
    commandTimeoutMs: 60_000,
    onEvent: () => undefined,
  });
}

test('command lines: quoted, under the host-side timer, with sudo when becoming', () => {
  const root = remote({});
  assert.deepEqual(root.commandFor(['cat', "it's"]), {
    shown: `cat 'it'\\''s'`,
    sent: `timeout -k 5 61.0 cat 'it'\\''s'`,
  });
  const user = remote({ ansible_user: 'kprov' });
  assert.deepEqual(user.commandFor(['id', '-u'], { env: { A: '1 2' }, timeoutMs: 500 }), {
    shown: `sudo -n -H -u root -- env 'A=1 2' id -u`,
    sent: `sudo -n -H -u root -- timeout -k 5 1.5 env 'A=1 2' id -u`,
  });
  assert.equal(user.commandFor(['id', '-un'], { asLoginUser: true }).shown, 'id -un');
  assert.equal(remote({ ansible_user: 'kprov', ansible_become_user: 'etcd' }).commandFor(['true']).shown, 'sudo -n -H -u etcd -- true');
});
