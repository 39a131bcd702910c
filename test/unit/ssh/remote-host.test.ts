import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InventoryHost } from '../../../src/inventory/model.js';
import { HostLostError } from '../../../src/ssh/errors.js';
import type { SshEvent } from '../../../src/ssh/events.js';
import { sshHostConfig } from '../../../src/ssh/host-config.js';
import { SshRemoteHost } from '../../../src/ssh/remote-host.js';
import { NotStartedError, type Session } from '../../../src/ssh/session.js';

const node2: InventoryHost = { name: 'node2', address: '10.99.0.2', groups: ['all'], vars: {} };

/** A session whose connection has gone (as ssh2's keepalive leaves it): nothing starts on it. */
const dropped = (reason: string) => ({ closedReason: reason, exec: () => Promise.reject(new NotStartedError(reason)) }) as unknown as Session;

test('a connection lost for good: one reconnect is tried, then every command fails at once with HostLostError', async () => {
  const events: SshEvent[] = [];
  let opens = 0;
  const host = new SshRemoteHost({
    config: sshHostConfig(node2, '/inv'),
    session: dropped('Keepalive timeout'),
    open: () => {
      opens++;
      return Promise.reject(new Error('no SSH login to 10.99.0.2:22 within 10 s'));
    },
    commandTimeoutMs: 60_000,
    onEvent: (e) => events.push(e),
  });
  const lost = (err: unknown) =>
    err instanceof HostLostError &&
    err.host === 'node2' &&
    err.message === 'the connection was lost (Keepalive timeout) and could not be opened again: no SSH login to 10.99.0.2:22 within 10 s';
  await assert.rejects(host.exec(['systemctl', 'is-active', 'kube-apiserver']), lost);
  await assert.rejects(host.exec(['true']), lost);
  assert.equal(opens, 1, 'the one reconnect is not tried again');
  assert.deepEqual(events, [{ type: 'ssh.reconnecting', host: 'node2', reason: 'Keepalive timeout' }]);
});

test('a reconnected host whose new connection drops too is lost', async () => {
  const host = new SshRemoteHost({
    config: sshHostConfig(node2, '/inv'),
    session: dropped('Keepalive timeout'),
    open: () => Promise.resolve(dropped('connection closed')),
    commandTimeoutMs: 60_000,
    onEvent: () => undefined,
  });
  const lostAgain = (err: unknown) => err instanceof HostLostError && /lost again \(connection closed\); giving up on this host$/.test(err.message);
  await assert.rejects(host.exec(['true']), lostAgain);
  await assert.rejects(host.exec(['true']), lostAgain);
});
