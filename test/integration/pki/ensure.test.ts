/**
 * ensurePki / renewCertificates / checkCertificates on disk, their results checked with the real
 * openssl: reissued certificates verify and keep their keys, foreign certificates are flagged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../../../src/errors.js';
import { checkCertificates, ensurePki, planCertificates, renewCertificates } from '../../../src/pki/index.js';
import { changedFiles, snapshot } from '../../support/dir-snapshot.js';
import { needsCommands } from '../../support/needs-commands.js';
import { openssl } from '../../support/openssl.js';
import { days, freshPki, isPkiError } from '../../support/pki-on-disk.js';
import { tempDir } from '../../support/temp-dir.js';

test('a changed SAN reissues only that certificate, with the same key', needsCommands('openssl'), async (t) => {
  const { dir, input, before } = await freshPki(t);
  const changed = { ...input, supplementaryAddresses: [...input.supplementaryAddresses, '198.51.100.9'] };
  const r = await ensurePki(dir, changed);
  assert.deepEqual(r.reissued, [{ name: 'apiserver', reason: 'SANs changed (+IP:198.51.100.9)' }]);
  assert.deepEqual(r.created, []);
  assert.deepEqual(r.written, ['apiserver.crt']);
  assert.deepEqual(changedFiles(before, await snapshot(dir)), ['apiserver.crt']);
  assert.match(await openssl(['x509', '-in', path.join(dir, 'apiserver.crt'), '-noout', '-ext', 'subjectAltName']), /IP Address:198\.51\.100\.9/);
  const crt = path.join(dir, 'apiserver.crt');
  assert.equal((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), crt])).trim(), `${crt}: OK`);
  assert.equal(
    await openssl(['pkey', '-in', path.join(dir, 'apiserver.key'), '-pubout']),
    await openssl(['x509', '-in', crt, '-noout', '-pubkey']),
  );

  // A node's new address reissues its serving certificate, nothing else.
  const snap2 = await snapshot(dir);
  const moved = { ...changed, nodes: changed.nodes.map((n) => (n.name === 'w1' ? { ...n, ip: '10.0.0.12', address: '10.0.0.12' } : n)) };
  const r2 = await ensurePki(dir, moved);
  assert.deepEqual(r2.reissued, [{ name: 'kubelet/w1-server', reason: 'SANs changed (+IP:10.0.0.12, -IP:10.0.0.11)' }]);
  assert.deepEqual(changedFiles(snap2, await snapshot(dir)), ['kubelet/w1-server.crt']);
});

test('CA safety: the service-account key is never replaced; sa.pub follows sa.key', needsCommands('openssl'), async (t) => {
  const { dir, input } = await freshPki(t);
  const saKey = await readFile(path.join(dir, 'sa.key'));
  await rm(path.join(dir, 'sa.key'));
  await assert.rejects(ensurePki(dir, input), isPkiError('sa.key', /sa\.pub exists but sa\.key is missing/));
  await writeFile(path.join(dir, 'sa.key'), saKey, { mode: 0o600 });
  await rm(path.join(dir, 'sa.pub'));
  const r = await ensurePki(dir, input);
  assert.deepEqual(r.written, ['sa.pub']);
  assert.equal(await readFile(path.join(dir, 'sa.pub'), 'utf8'), await openssl(['pkey', '-in', path.join(dir, 'sa.key'), '-pubout']));
});

test('a CA certificate lost with its key kept is made anew from the key; what it signed still verifies', needsCommands('openssl'), async (t) => {
  const { dir, input, before } = await freshPki(t);
  await rm(path.join(dir, 'ca.crt'));
  const r = await ensurePki(dir, input);
  assert.deepEqual(r.reissued, [{ name: 'ca', reason: 'ca.crt was missing; made anew from the existing ca.key' }]);
  assert.deepEqual(changedFiles(before, await snapshot(dir)), ['ca.crt']);
  const leaf = path.join(dir, 'apiserver.crt');
  assert.equal((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), leaf])).trim(), `${leaf}: OK`);
});

test('a leaf whose key is missing or of the wrong algorithm gets a new key and certificate', needsCommands('openssl'), async (t) => {
  const { dir, input, before } = await freshPki(t);
  await rm(path.join(dir, 'kubelet/w1-client.key'));
  await writeFile(path.join(dir, 'admin.key'), await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']), { mode: 0o600 });
  const r = await ensurePki(dir, input);
  assert.deepEqual(r.reissued, [
    { name: 'admin', reason: 'key is rsa-2048, plan says ecdsa-p256' },
    { name: 'kubelet/w1-client', reason: 'private key missing' },
  ]);
  assert.deepEqual(changedFiles(before, await snapshot(dir)), ['admin.crt', 'admin.key', 'kubelet/w1-client.crt', 'kubelet/w1-client.key']);
  assert.match(await readFile(path.join(dir, 'admin.key'), 'utf8'), /^-----BEGIN EC PRIVATE KEY-----/);
});

test('renewCertificates reissues the named leaves from the same CA with the same keys', needsCommands('openssl'), async (t) => {
  const { dir, input, before } = await freshPki(t);
  const serial = async (f: string) => (await openssl(['x509', '-in', path.join(dir, f), '-noout', '-serial'])).trim();
  const oldSerial = await serial('apiserver.crt');
  const r = await renewCertificates(dir, input, ['apiserver', 'etcd/server-cp1']);
  assert.deepEqual(r.reissued, [
    { name: 'apiserver', reason: 'renewal requested' },
    { name: 'etcd/server-cp1', reason: 'renewal requested' },
  ]);
  assert.deepEqual(changedFiles(before, await snapshot(dir)), ['apiserver.crt', 'etcd/server-cp1.crt']);
  assert.notEqual(await serial('apiserver.crt'), oldSerial);
  const crt = path.join(dir, 'etcd/server-cp1.crt');
  assert.equal((await openssl(['verify', '-CAfile', path.join(dir, 'etcd/ca.crt'), crt])).trim(), `${crt}: OK`);

  const snap = await snapshot(dir);
  const all = await renewCertificates(dir, input, 'all');
  const leaves = planCertificates(input).filter((s) => s.kind === 'leaf').map((s) => s.name);
  assert.deepEqual(all.reissued.map((x) => x.name), leaves);
  assert.deepEqual(changedFiles(snap, await snapshot(dir)), leaves.map((n) => `${n}.crt`).sort());

  await assert.rejects(renewCertificates(dir, input, ['ca']), (e: unknown) => e instanceof KprovError && /only leaf certificates/.test(e.message));
  await assert.rejects(renewCertificates(dir, input, ['nope']), (e: unknown) => e instanceof KprovError && /no certificate named "nope"/.test(e.message));
  const empty = path.join(await tempDir(t), 'pki');
  await assert.rejects(renewCertificates(empty, input, ['apiserver']), (e: unknown) => e instanceof KprovError && /does not exist yet/.test(e.message));
});

test('checkCertificates lists every certificate with names, issuer, expiry and warnings', needsCommands('openssl'), async (t) => {
  const { dir, input } = await freshPki(t);
  const now = new Date();
  const statuses = await checkCertificates(dir, { now });
  const certNames = planCertificates(input).filter((s) => s.files.cert).map((s) => s.name).sort();
  assert.deepEqual(statuses.map((s) => s.name), certNames);
  const api = statuses.find((s) => s.name === 'apiserver')!;
  assert.equal(api.subject, 'CN=kube-apiserver');
  assert.equal(api.issuer, 'CN=kubernetes');
  assert.equal(api.daysLeft, 364);
  assert.equal(api.issuerVerified, true);
  assert.deepEqual(api.extKeyUsages, ['serverAuth']);
  assert.ok(api.sans.ip.includes('10.233.0.1'));
  assert.equal(api.warning, undefined);
  assert.equal(statuses.find((s) => s.name === 'ca')!.daysLeft, 3649);
  assert.equal(statuses.find((s) => s.name === 'kubelet/w1-client')!.subject, 'O=system:nodes, CN=system:node:w1');

  const late = await checkCertificates(dir, { now: days(350) });
  assert.match(late.find((s) => s.name === 'admin')!.warning ?? '', /^expires in 1[45] days$/);
  assert.equal(late.find((s) => s.name === 'ca')!.warning, undefined);
  const expired = await checkCertificates(dir, { now: days(400) });
  assert.match(expired.find((s) => s.name === 'admin')!.warning ?? '', /^expired on /);

  // A certificate no CA here signed is flagged.
  const foreignKey = path.join(dir, 'foreign.key');
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=foreign',
    '-addext', 'basicConstraints=critical,CA:FALSE', '-keyout', foreignKey, '-out', path.join(dir, 'kubelet/foreign.crt'), '-days', '1']);
  const withForeign = await checkCertificates(dir, { now });
  const foreign = withForeign.find((s) => s.name === 'kubelet/foreign')!;
  assert.equal(foreign.issuerVerified, false);
  assert.match(foreign.warning ?? '', /expires in [01] days?; no CA in .* verifies it \(issuer CN=foreign\)/);
  await assert.rejects(checkCertificates(path.join(dir, 'missing')), (e: unknown) => e instanceof KprovError && e.code === 'pki');
});
