/**
 * ensurePki / renewCertificates / checkCertificates on disk: idempotence, targeted reissue,
 * CA safety, file modes, expiry handling. What needs openssl to check is
 * test/integration/pki/ensure.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checkCertificates, ensurePki, planCertificates } from '../../../src/pki/index.js';
import { changedFiles, snapshot } from '../../support/dir-snapshot.js';
import { days, freshPki, isPkiError } from '../../support/pki-on-disk.js';
import { smallCluster } from '../../support/pki-small-cluster.js';

test('a second run with the same input changes no byte and no mtime (RSA)', async (t) => {
  const input = smallCluster({ keyAlgorithm: 'rsa-2048' });
  const { dir, before } = await freshPki(t, input);
  const mtimes = new Map<string, number>();
  for (const f of before.keys()) mtimes.set(f, (await stat(path.join(dir, f))).mtimeMs);
  const again = await ensurePki(dir, input);
  assert.deepEqual(again.written, []);
  assert.deepEqual(again.created, []);
  assert.deepEqual(again.reissued, []);
  assert.deepEqual(again.modesFixed, []);
  assert.equal(again.keysGenerated, 0);
  assert.deepEqual(again.reused, planCertificates(input).map((s) => s.name));
  assert.deepEqual(changedFiles(before, await snapshot(dir)), []);
  for (const [f, m] of mtimes) assert.equal((await stat(path.join(dir, f))).mtimeMs, m, f);
  assert.ok(![...before.keys()].some((f) => f.includes('.tmp')), 'no temporary files left');
});

test('a new node gets its certificates; nothing else is touched', async (t) => {
  const { dir, input, before } = await freshPki(t);
  const grown = { ...input, nodes: [...input.nodes, { name: 'w2', ip: '10.0.0.12', address: '10.0.0.12' }] };
  const r = await ensurePki(dir, grown);
  assert.deepEqual(r.created, ['kubelet/w2-client', 'kubelet/w2-server']);
  assert.deepEqual(r.reissued, []);
  assert.equal(r.keysGenerated, 2);
  assert.deepEqual(changedFiles(before, await snapshot(dir)), [
    'kubelet/w2-client.crt', 'kubelet/w2-client.key', 'kubelet/w2-server.crt', 'kubelet/w2-server.key',
  ]);
});

test('CA safety: a missing or foreign CA key is an error that says what to do, and nothing is written', async (t) => {
  const { dir, input, before } = await freshPki(t);
  await rm(path.join(dir, 'ca.key'));
  await assert.rejects(ensurePki(dir, input), isPkiError('ca.key', /ca\.crt exists but its private key ca\.key is missing/));
  const withoutKey = new Map(before);
  withoutKey.delete('ca.key');
  assert.deepEqual(changedFiles(withoutKey, await snapshot(dir)), []);

  await copyFile(path.join(dir, 'etcd/ca.key'), path.join(dir, 'ca.key'));
  await assert.rejects(ensurePki(dir, input), isPkiError('ca.key', /ca\.key is not the private key of ca\.crt/));

  await writeFile(path.join(dir, 'ca.key'), 'not a key\n', { mode: 0o600 });
  await assert.rejects(ensurePki(dir, input), isPkiError('ca.key', /cannot parse the Kubernetes CA private key/));

  // The etcd CA is protected the same way.
  const other = await freshPki(t);
  await rm(path.join(other.dir, 'etcd/ca.key'));
  await assert.rejects(ensurePki(other.dir, other.input), isPkiError('etcd/ca.key', /etcd\/ca\.crt exists but its private key/));
  await writeFile(path.join(other.dir, 'etcd/ca.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  await copyFile(path.join(other.dir, 'ca.key'), path.join(other.dir, 'etcd/ca.key'));
  await assert.rejects(ensurePki(other.dir, other.input), isPkiError('etcd/ca.crt', /cannot parse the etcd CA certificate/));
});

test('a CA removed on purpose (certificate and key) is created anew and its leaves are reissued and reported', async (t) => {
  const { dir, input, before } = await freshPki(t);
  await rm(path.join(dir, 'front-proxy-ca.crt'));
  await rm(path.join(dir, 'front-proxy-ca.key'));
  const r = await ensurePki(dir, input);
  assert.deepEqual(r.created, ['front-proxy-ca']);
  assert.deepEqual(r.reissued, [{ name: 'front-proxy-client', reason: 'not signed by the current front-proxy-ca CA' }]);
  assert.deepEqual(changedFiles(before, await snapshot(dir)), ['front-proxy-ca.crt', 'front-proxy-ca.key', 'front-proxy-client.crt']);
});

test('modes: directories 0700, keys 0600, certificates 0644; drift is corrected without rewriting', async (t) => {
  const { dir, input, before } = await freshPki(t);
  const mode = async (rel: string) => (await stat(path.join(dir, rel))).mode & 0o777;
  assert.equal(await mode('.'), 0o700);
  assert.equal(await mode('etcd'), 0o700);
  assert.equal(await mode('kubelet'), 0o700);
  for (const f of before.keys()) {
    assert.equal(await mode(f), f.endsWith('.key') ? 0o600 : 0o644, f);
  }
  await chmod(path.join(dir, 'ca.key'), 0o644);
  await chmod(path.join(dir, 'etcd'), 0o755);
  await chmod(path.join(dir, 'apiserver.crt'), 0o600);
  const r = await ensurePki(dir, input);
  assert.deepEqual(r.modesFixed, ['apiserver.crt', 'ca.key', 'etcd/']);
  assert.deepEqual(r.written, []);
  assert.equal(await mode('ca.key'), 0o600);
  assert.equal(await mode('etcd'), 0o700);
  assert.equal(await mode('apiserver.crt'), 0o644);
  assert.deepEqual(changedFiles(before, await snapshot(dir)), []);
});

test('leaves expiring within 30 days are reissued with their keys; CAs are kept', async (t) => {
  const { dir, input, before } = await freshPki(t);
  const r = await ensurePki(dir, input, { now: days(340) });
  const leaves = planCertificates(input).filter((s) => s.kind === 'leaf').map((s) => s.name);
  assert.deepEqual(r.reissued.map((x) => x.name), leaves);
  assert.ok(r.reissued.every((x) => /^expires in 2[45] days$/.test(x.reason)), JSON.stringify(r.reissued[0]));
  assert.deepEqual(r.reused, ['ca', 'front-proxy-ca', 'etcd/ca', 'sa']);
  assert.ok(changedFiles(before, await snapshot(dir)).every((f) => f.endsWith('.crt') && leaves.includes(f.slice(0, -4))));
  const statuses = await checkCertificates(dir, { now: days(340) });
  assert.ok(statuses.every((s) => s.warning === undefined), 'reissued certificates are good for another year');
});

test('an expired CA is an error; a CA close to expiry is a warning', async (t) => {
  const { dir, input } = await freshPki(t);
  await assert.rejects(ensurePki(dir, input, { now: days(3651) }), isPkiError('ca.crt', /the Kubernetes CA expired on/));
  const r = await ensurePki(dir, input, { now: days(3630) });
  assert.equal(r.warnings.length, 3);
  assert.match(r.warnings[0]!, /^ca\.crt: the Kubernetes CA expires in 19 days/);
});

