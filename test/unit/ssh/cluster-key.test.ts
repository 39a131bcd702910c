import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { ensureClusterKey, loadClusterKey } from '../../../src/ssh/cluster-key.js';
import { processTempDir } from '../../support/temp-dir.js';

// New keys checked by OpenSSH's ssh-keygen: test/integration/ssh/cluster-key.test.ts.

test('an existing key is reused, never replaced; a lost .pub is rewritten', async () => {
  const inv = processTempDir('kprov-inv-');
  const first = await ensureClusterKey(inv, 'ed25519');
  const before = readFileSync(first.key.privateKeyPath);
  rmSync(first.key.publicKeyPath);
  const second = await ensureClusterKey(inv, 'ed25519');
  assert.equal(second.created, false);
  assert.deepEqual(readFileSync(second.key.privateKeyPath), before);
  assert.equal(readFileSync(second.key.publicKeyPath, 'utf8').trim(), first.key.publicKey);
});

test('concurrent creation yields one key', async () => {
  const inv = processTempDir('kprov-inv-');
  const results = await Promise.all(Array.from({ length: 6 }, () => ensureClusterKey(inv, 'ed25519')));
  assert.equal(new Set(results.map((r) => r.key.fingerprint)).size, 1);
  assert.ok(results.some((r) => r.created));
});

test('loading: absent is undefined, loose permissions are tightened, garbage is an error', async () => {
  const inv = processTempDir('kprov-inv-');
  assert.equal(await loadClusterKey(inv, 'ed25519'), undefined);
  const { key } = await ensureClusterKey(inv, 'ed25519');
  chmodSync(key.privateKeyPath, 0o644);
  await loadClusterKey(inv, 'ed25519');
  assert.equal(statSync(key.privateKeyPath).mode & 0o777, 0o600);
  writeFileSync(key.privateKeyPath, 'not a key\n', { mode: 0o600 });
  await assert.rejects(loadClusterKey(inv, 'ed25519'), /not an unencrypted OpenSSH private key/);
});
