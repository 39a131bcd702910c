import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil, WaitTimeoutError } from '../../../src/engine/wait.js';
import { HostLostError } from '../../../src/ssh/errors.js';

const bounds = { what: 'the probe', timeoutMs: 2_000, intervalMs: 10 };

test('a probe that throws counts as not ready yet: waiting goes on', async () => {
  let calls = 0;
  const value = await waitUntil(async () => {
    calls++;
    if (calls < 3) throw new Error('connection refused');
    return 'up';
  }, bounds);
  assert.equal(value, 'up');
  assert.equal(calls, 3);
});

test('a lost host ends the wait at once, with its own error rather than a timeout', async () => {
  let calls = 0;
  const started = Date.now();
  await assert.rejects(
    waitUntil(async () => {
      calls++;
      throw new HostLostError('node2', 'the connection was lost (Keepalive timeout) and could not be opened again: no route to the host');
    }, bounds),
    (err: unknown) => err instanceof HostLostError && !(err instanceof WaitTimeoutError) && err.host === 'node2',
  );
  assert.equal(calls, 1);
  assert.ok(Date.now() - started < 1_000);
});
