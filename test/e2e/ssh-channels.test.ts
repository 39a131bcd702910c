/**
 * sshd refuses session channels beyond MaxSessions (10 by default), and frees a closed channel's
 * slot only some time after it reported the close: a bare client that opens 40 at once sees
 * "open failed". kprov's connection queues its commands and tries a refused open again, so 300
 * commands and 30 file writes at once over one connection all succeed, with one SSH handshake.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labSkipReason } from '../support/lab.js';
import { startLab } from '../../dev/lab-hosts.js';

const scenario = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios', 'ssh-channels.js');

test('many parallel commands and uploads over one connection never meet "open failed"', { skip: labSkipReason(), timeout: 180_000 }, async () => {
  const lab = await startLab({ name: 'e2e-chan', hosts: 1 });
  try {
    const r = await lab.inLab([process.execPath, scenario], { input: JSON.stringify({ inventoryDir: lab.inventoryDir, host: 'node1' }), timeoutMs: 150_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rawRefused: string[]; commands: number; failures: string[]; ms: number; handshakes: number };
    assert.ok(out.rawRefused.length > 0, 'sshd does refuse channels beyond MaxSessions');
    assert.ok(out.rawRefused.every((m) => /open failed/.test(m)), out.rawRefused.join('\n'));
    assert.deepEqual(out.failures, []);
    assert.equal(out.commands, 300);
    assert.equal(out.handshakes, 1);
  } finally {
    await lab.stop();
  }
});
