/**
 * Every certificate and key of a freshly issued PKI, checked with the real openssl: chain,
 * purpose (EKU), subject, SANs exactly, key usage, and that each key belongs to its certificate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ensurePki, planCertificates, type CertSpec, type KeyAlgorithm } from '../../../src/pki/index.js';
import { needsCommands } from '../../support/needs-commands.js';
import { normalizeIp, openssl } from '../../support/openssl.js';
import { smallCluster } from '../../support/pki-small-cluster.js';
import { tempDir } from '../../support/temp-dir.js';

/** `openssl x509 -ext …` output as header → value lines. */
function extensions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (!/^\s/.test(line)) {
      current = line.replace(/:\s*(critical)?\s*$/, (_m, c: string | undefined) => (c ? ' (critical)' : '')).trim();
      out.set(current, '');
    } else if (current !== undefined) {
      out.set(current, `${out.get(current)}${out.get(current) === '' ? '' : ' '}${line.trim()}`);
    }
  }
  return out;
}

const EKU_TEXT: Record<string, string> = { serverAuth: 'TLS Web Server Authentication', clientAuth: 'TLS Web Client Authentication' };

async function checkLeaf(dir: string, spec: CertSpec, alg: KeyAlgorithm): Promise<void> {
  const crt = path.join(dir, spec.files.cert!);
  const key = path.join(dir, spec.files.key);
  const caFile = path.join(dir, `${spec.issuer}.crt`);
  const purposes = spec.extKeyUsages.map((u) => (u === 'serverAuth' ? 'sslserver' : 'sslclient'));
  for (const purpose of purposes) {
    assert.equal((await openssl(['verify', '-CAfile', caFile, '-purpose', purpose, crt])).trim(), `${crt}: OK`);
  }
  const subject = (await openssl(['x509', '-in', crt, '-noout', '-subject', '-nameopt', 'RFC2253'])).trim();
  const expected = ['CN=' + spec.commonName, ...spec.organizations.map((o) => `O=${o}`)].join(',');
  assert.equal(subject, `subject=${expected}`, spec.name);
  const issuer = (await openssl(['x509', '-in', caFile, '-noout', '-subject', '-nameopt', 'RFC2253'])).trim().replace(/^subject=/, 'issuer=');
  assert.equal((await openssl(['x509', '-in', crt, '-noout', '-issuer', '-nameopt', 'RFC2253'])).trim(), issuer);

  const ext = extensions(
    await openssl(['x509', '-in', crt, '-noout', '-ext', 'subjectAltName,extendedKeyUsage,basicConstraints,keyUsage']),
  );
  assert.equal(ext.get('X509v3 Basic Constraints (critical)'), 'CA:FALSE', spec.name);
  assert.equal(
    ext.get('X509v3 Key Usage (critical)'),
    alg === 'rsa-2048' ? 'Digital Signature, Key Encipherment' : 'Digital Signature',
    spec.name,
  );
  assert.equal(ext.get('X509v3 Extended Key Usage'), spec.extKeyUsages.map((u) => EKU_TEXT[u]).join(', '), spec.name);
  const sanText = ext.get('X509v3 Subject Alternative Name');
  const sans = sanText === undefined ? [] : sanText.split(', ');
  const dns = sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
  const ips = sans.filter((s) => s.startsWith('IP Address:')).map((s) => normalizeIp(s.slice(11).toLowerCase()));
  assert.equal(dns.length + ips.length, sans.length, `${spec.name}: only DNS and IP SANs`);
  assert.deepEqual(dns, spec.sans.dns, `${spec.name} DNS SANs`);
  assert.deepEqual(ips, spec.sans.ip, `${spec.name} IP SANs`);

  const [fromKey, fromCert] = await Promise.all([
    openssl(['pkey', '-in', key, '-pubout']),
    openssl(['x509', '-in', crt, '-noout', '-pubkey']),
  ]);
  assert.equal(fromKey, fromCert, `${spec.name}: key belongs to certificate`);
  const keyPem = await readFile(key, 'utf8');
  assert.match(keyPem, alg === 'rsa-2048' ? /^-----BEGIN RSA PRIVATE KEY-----\n/ : /^-----BEGIN EC PRIVATE KEY-----\n/);
  const text = await openssl(['x509', '-in', crt, '-noout', '-text']);
  assert.match(text, alg === 'rsa-2048' ? /Public-Key: \(2048 bit\)/ : /ASN1 OID: prime256v1/);
  assert.match(text, /Signature Algorithm: (sha256WithRSAEncryption|ecdsa-with-SHA256)/);
}

async function checkCa(dir: string, spec: CertSpec): Promise<void> {
  const crt = path.join(dir, spec.files.cert!);
  assert.equal((await openssl(['verify', '-CAfile', crt, crt])).trim(), `${crt}: OK`);
  assert.equal((await openssl(['x509', '-in', crt, '-noout', '-subject', '-nameopt', 'RFC2253'])).trim(), `subject=CN=${spec.commonName}`);
  const ext = extensions(await openssl(['x509', '-in', crt, '-noout', '-ext', 'basicConstraints,keyUsage']));
  assert.equal(ext.get('X509v3 Basic Constraints (critical)'), 'CA:TRUE');
  assert.match(ext.get('X509v3 Key Usage (critical)') ?? '', /Certificate Sign, CRL Sign/);
  const [fromKey, fromCert] = await Promise.all([
    openssl(['pkey', '-in', path.join(dir, spec.files.key), '-pubout']),
    openssl(['x509', '-in', crt, '-noout', '-pubkey']),
  ]);
  assert.equal(fromKey, fromCert, `${spec.name}: key belongs to certificate`);
  const days = await openssl(['x509', '-in', crt, '-noout', '-checkend', String(3640 * 86400)]);
  assert.match(days, /will not expire/);
}

for (const alg of ['rsa-2048', 'ecdsa-p256'] as const) {
  test(`openssl verifies every certificate and key of a new PKI (${alg})`, needsCommands('openssl'), async (t) => {
    const dir = await tempDir(t);
    const input = smallCluster({ keyAlgorithm: alg });
    const report = await ensurePki(dir, input);
    const specs = planCertificates(input);
    assert.deepEqual(report.created, specs.map((s) => s.name));
    assert.equal(report.keysGenerated, specs.length);
    await Promise.all(specs.filter((s) => s.kind === 'ca').map((s) => checkCa(dir, s)));
    await Promise.all(specs.filter((s) => s.kind === 'leaf').map((s) => checkLeaf(dir, s, alg)));

    // The service-account key pair is RSA 2048 and sa.pub is its public half.
    const sa = await openssl(['pkey', '-in', path.join(dir, 'sa.key'), '-pubout']);
    assert.equal(sa, await readFile(path.join(dir, 'sa.pub'), 'utf8'));
    assert.match(await openssl(['pkey', '-in', path.join(dir, 'sa.key'), '-noout', '-text']), /Private-Key: \(2048 bit, 2 primes\)/);

    // Issuers are not interchangeable: an etcd-CA certificate does not verify against the cluster CA.
    await assert.rejects(
      openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'apiserver-etcd-client.crt')]),
      /unable to get local issuer certificate/,
    );
    // A client certificate is not a server certificate.
    await assert.rejects(
      openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslserver', path.join(dir, 'admin.crt')]),
      /unsuitable certificate purpose/,
    );
  });
}
