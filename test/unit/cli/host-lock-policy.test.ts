import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { HOST_LOCK_STALE_AFTER_S, hostLockStaleReason } from '../../../src/cli/control-host.js';
import type { RunHolder } from '../../../src/engine/run-holder.js';

const holder = (over: Partial<RunHolder>): RunHolder => ({ runId: 'aaaa0001', user: 'root', host: hostname(), pid: process.pid, since: new Date().toISOString(), command: 'kprov apply cluster', ...over });

test('a host lock is taken over when its run is known dead here, or it was not refreshed for an hour; never else', async () => {
  assert.equal(await hostLockStaleReason(holder({}), 10), undefined, 'this live process');
  assert.equal(await hostLockStaleReason(holder({ host: 'ctl-elsewhere', pid: 1 }), HOST_LOCK_STALE_AFTER_S), undefined, 'another control host, refreshed within the hour');
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
  assert.equal(await hostLockStaleReason(holder({ pid: dead }), 10), `run aaaa0001 (pid ${dead} on ${hostname()}, kprov apply cluster) is gone`);
  assert.equal(await hostLockStaleReason(holder({ host: 'ctl-elsewhere', pid: 9 }), 3 * 3600), 'it was not refreshed for 180 min (run aaaa0001, pid 9 on ctl-elsewhere)');
  assert.equal(await hostLockStaleReason(undefined, 30), undefined, 'being taken right now');
  assert.equal(await hostLockStaleReason(undefined, 90), 'it named no readable holder for 90 s');
});
