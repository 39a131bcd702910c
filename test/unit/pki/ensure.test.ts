/**
 * ensurePki / renewCertificates / checkCertificates on disk: idempotence, targeted reissue,
 * CA safety, file modes, expiry handling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../../../src/errors.js';
import { checkCertificates, ensurePki, planCertificates, renewCertificates, type PkiInput } from '../../../src/pki/index.js';
import { changedFiles, snapshot } from '../../support/dir-snapshot.js';
import { openssl } from '../../support/openssl.js';
import { smallCluster } from '../../support/pki-small-cluster.js';
import { tempDir } from '../../support/temp-dir.js';

const DAY = 24 * 60 * 60 * 1000;
const days = (n: number) => new Date(Date.now() + n * DAY);

function isPkiError(file: string, message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof KprovError, String(err));
    assert.equal(err.code, 'pki');
    assert.match(err.message, message);
    assert.ok(err.location?.file.endsWith(file), `location ${err.location?.file} should end with ${file}`);
    assert.ok(err.hint, 'has a hint');
    return true;
  };
}

async function fresh(t: Parameters<typeof tempDir>[0], input: PkiInput = smallCluster({ keyAlgorithm: 'ecdsa-p256' })) {
  const dir = path.join(await tempDir(t), 'pki');
  await ensurePki(dir, input);
  return { dir, input, before: await snapshot(dir) };
}

test('a second run with the same input changes no byte and no mtime (RSA)', async (t) => {
  const input = smallCluster({ keyAlgorithm: 'rsa-2048' });
  const { dir, before } = await fresh(t, input);
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

test('a changed SAN reissues only that certificate, with the same key', async (t) => {
  const { dir, input, before } = await fresh(t);
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

test('a new node gets its certificates; nothing else is touched', async (t) => {
  const { dir, input, before } = await fresh(t);
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
  const { dir, input, before } = await fresh(t);
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
  const other = await fresh(t);
  await rm(path.join(other.dir, 'etcd/ca.key'));
  await assert.rejects(ensurePki(other.dir, other.input), isPkiError('etcd/ca.key', /etcd\/ca\.crt exists but its private key/));
  await writeFile(path.join(other.dir, 'etcd/ca.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  await copyFile(path.join(other.dir, 'ca.key'), path.join(other.dir, 'etcd/ca.key'));
  await assert.rejects(ensurePki(other.dir, other.input), isPkiError('etcd/ca.crt', /cannot parse the etcd CA certificate/));
});

test('CA safety: the service-account key is never replaced; sa.pub follows sa.key', async (t) => {
  const { dir, input } = await fresh(t);
  const saKey = await readFile(path.join(dir, 'sa.key'));
  await rm(path.join(dir, 'sa.key'));
  await assert.rejects(ensurePki(dir, input), isPkiError('sa.key', /sa\.pub exists but sa\.key is missing/));
  await writeFile(path.join(dir, 'sa.key'), saKey, { mode: 0o600 });
  await rm(path.join(dir, 'sa.pub'));
  const r = await ensurePki(dir, input);
  assert.deepEqual(r.written, ['sa.pub']);
  assert.equal(await readFile(path.join(dir, 'sa.pub'), 'utf8'), await openssl(['pkey', '-in', path.join(dir, 'sa.key'), '-pubout']));
});

test('a CA certificate lost with its key kept is made anew from the key; what it signed still verifies', async (t) => {
  const { dir, input, before } = await fresh(t);
  await rm(path.join(dir, 'ca.crt'));
  const r = await ensurePki(dir, input);
  assert.deepEqual(r.reissued, [{ name: 'ca', reason: 'ca.crt was missing; made anew from the existing ca.key' }]);
  assert.deepEqual(changedFiles(before, await snapshot(dir)), ['ca.crt']);
  const leaf = path.join(dir, 'apiserver.crt');
  assert.equal((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), leaf])).trim(), `${leaf}: OK`);
});

test('a CA removed on purpose (certificate and key) is created anew and its leaves are reissued and reported', async (t) => {
  const { dir, input, before } = await fresh(t);
  await rm(path.join(dir, 'front-proxy-ca.crt'));
  await rm(path.join(dir, 'front-proxy-ca.key'));
  const r = await ensurePki(dir, input);
  assert.deepEqual(r.created, ['front-proxy-ca']);
  assert.deepEqual(r.reissued, [{ name: 'front-proxy-client', reason: 'not signed by the current front-proxy-ca CA' }]);
  assert.deepEqual(changedFiles(before, await snapshot(dir)), ['front-proxy-ca.crt', 'front-proxy-ca.key', 'front-proxy-client.crt']);
});

test('modes: directories 0700, keys 0600, certificates 0644; drift is corrected without rewriting', async (t) => {
  const { dir, input, before } = await fresh(t);
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

test('a leaf whose key is missing or of the wrong algorithm gets a new key and certificate', async (t) => {
  const { dir, input, before } = await fresh(t);
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

test('leaves expiring within 30 days are reissued with their keys; CAs are kept', async (t) => {
  const { dir, input, before } = await fresh(t);
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
  const { dir, input } = await fresh(t);
  await assert.rejects(ensurePki(dir, input, { now: days(3651) }), isPkiError('ca.crt', /the Kubernetes CA expired on/));
  const r = await ensurePki(dir, input, { now: days(3630) });
  assert.equal(r.warnings.length, 3);
  assert.match(r.warnings[0]!, /^ca\.crt: the Kubernetes CA expires in 19 days/);
});

test('renewCertificates reissues the named leaves from the same CA with the same keys', async (t) => {
  const { dir, input, before } = await fresh(t);
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

test('checkCertificates lists every certificate with names, issuer, expiry and warnings', async (t) => {
  const { dir, input } = await fresh(t);
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
