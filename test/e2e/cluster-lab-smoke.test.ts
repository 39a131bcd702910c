import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../support/lab.js';
import { startClusterLab } from '../../dev/cluster-lab.js';

test('a cluster lab serves the stand-in release and kprov download verifies all of it', { skip: labSkipReason() }, async () => {
  const lab = await startClusterLab({ name: 'e2e-smoke', hosts: 1 });
  try {
    const r = await lab.kprov(['download', '-i', lab.inventoryDir, '--json'], { timeoutMs: 300_000, env: { ...process.env, XDG_CACHE_HOME: '/tmp/kt/cache' } });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    console.log(r.stdout.slice(0, 2000));
  } finally {
    await lab.stop();
  }
});
