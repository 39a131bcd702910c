/**
 * Every template of the playbook is rendered and flag-checked before the first play: a kubelet
 * unit template with a flag v1.13 lacks makes `kprov apply cluster` fail as bad input (exit 2),
 * naming template and flag, before ssh-keys, preflight or the runtime play contact any host.
 * The package is copied with the broken template (no test hook in the product).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunEvent } from '../../src/engine/events.js';
import { startClusterLab } from '../../dev/cluster-lab.js';
import { labSkipReason } from '../support/lab.js';
import { copyPackage } from '../support/package-copy.js';

test('a broken flag in a template fails the whole playbook before any host is contacted: exit 2, hosts untouched', { skip: labSkipReason(), timeout: 300_000 }, async () => {
  const lab = await startClusterLab({ name: 'e2e-valid', hosts: 2 });
  const scratch = await mkdtemp(path.join(tmpdir(), 'kprov-e2e-valid-'));
  try {
    const copy = await copyPackage(path.join(scratch, 'kprov'));
    // The kubelet's unit is rendered by the node play, the second to last one.
    const template = path.join(copy, 'templates', 'node', 'kubelet.service.j2');
    const text = await readFile(template, 'utf8');
    const broken = text.replace('  --config={{ config }} \\\n', '  --config={{ config }} \\\n  --enable-magic=true \\\n');
    assert.notEqual(broken, text, 'the template was changed');
    await writeFile(template, broken);

    const marker = '/root/.e2e-before-validate';
    const logins = async (host: string) => (await lab.exec(host, ['sh', '-c', 'journalctl --no-pager -o cat _COMM=sshd | grep -c "^Accepted " || true'])).stdout.trim();
    const before: Record<string, string> = {};
    for (const h of lab.hosts) {
      assert.equal((await lab.exec(h.name, ['touch', marker])).code, 0);
      before[h.name] = await logins(h.name);
    }
    const knownHosts = await readFile(path.join(lab.inventoryDir, 'known_hosts'), 'utf8').catch(() => undefined);

    const r = await lab.inLab([process.execPath, path.join(copy, 'bin', 'kprov.js'), 'apply', 'cluster', '-i', lab.inventoryDir, '--json'], { timeoutMs: 120_000 });
    assert.equal(r.code, 2, `bad input exits 2\n${r.stdout}\n${r.stderr}`);
    const message = 'templates/node/kubelet.service.j2: kubelet does not accept --enable-magic (v1.13)';
    assert.match(r.stderr, new RegExp(`^error: ${message.replace(/[.()]/g, '\\$&')}$`, 'm'));
    const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as RunEvent);
    assert.deepEqual(events.map((e) => e.type).filter((t) => t !== 'warning'), ['run:start', 'run:invalid']);
    const invalid = events.find((e): e is Extract<RunEvent, { type: 'run:invalid' }> => e.type === 'run:invalid')!;
    assert.deepEqual([invalid.role, invalid.error.message], ['node', message]);

    // No host was contacted: no SSH login, no file newer than the marker, no host key pinned.
    for (const h of lab.hosts) {
      assert.equal(await logins(h.name), before[h.name], `${h.name}: no SSH login`);
      const changed = await lab.exec(h.name, ['sh', '-c', `find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/log \\) -prune -o -newer ${marker} -print`]);
      assert.equal(changed.stdout.trim(), '', `${h.name} changed:\n${changed.stdout}`);
    }
    assert.equal(await readFile(path.join(lab.inventoryDir, 'known_hosts'), 'utf8').catch(() => undefined), knownHosts);
  } finally {
    await lab.stop();
    await rm(scratch, { recursive: true, force: true });
  }
});
