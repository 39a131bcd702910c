import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChecksumFile, parseChecksumPin } from '../../../src/artifacts/checksum.js';
import { compareVersions, parseVersion, versionAtLeast } from '../../../src/artifacts/versions.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const L = '1'.repeat(128);

describe('parseChecksumPin', () => {
  it('accepts the three forms and nothing else', () => {
    assert.deepEqual(parseChecksumPin(`sha256:${A}`), { algorithm: 'sha256', hex: A });
    assert.deepEqual(parseChecksumPin(`SHA512:${L}`), { algorithm: 'sha512', hex: L });
    assert.deepEqual(parseChecksumPin(A.toUpperCase()), { algorithm: 'sha256', hex: A });
    assert.deepEqual(parseChecksumPin(L), { algorithm: 'sha512', hex: L });
    assert.equal(parseChecksumPin(`sha256:${L}`), undefined);
    assert.equal(parseChecksumPin(`md5:${'a'.repeat(32)}`), undefined);
    assert.equal(parseChecksumPin('a'.repeat(63)), undefined);
    assert.equal(parseChecksumPin(`sha256:${'g'.repeat(64)}`), undefined);
  });
});

describe('parseChecksumFile', () => {
  it('reads a bare digest (dl.k8s.io NAME.sha512)', () => {
    assert.deepEqual(parseChecksumFile(L, 'sha512', 'kube-apiserver'), { hex: L });
    assert.deepEqual(parseChecksumFile(`${A}\n`, 'sha256', 'kubectl'), { hex: A });
  });

  it('finds the named line in sha256sum output, with * and ./ prefixes', () => {
    const text = `${B}  other.tar.gz\n${A} *etcd-v3.4.23-linux-amd64.tar.gz\n`;
    assert.deepEqual(parseChecksumFile(text, 'sha256', 'etcd-v3.4.23-linux-amd64.tar.gz'), { hex: A });
    assert.deepEqual(parseChecksumFile(`${A}  ./cni.tgz\r\n`, 'sha256', 'cni.tgz'), { hex: A });
    assert.deepEqual(parseChecksumFile(`${A}  release/x/runc.amd64\n`, 'sha256', 'runc.amd64'), { hex: A });
  });

  it('skips PGP armor around runc.sha256sum', () => {
    const text = [
      '-----BEGIN PGP SIGNED MESSAGE-----',
      'Hash: SHA512',
      '',
      `${B}  runc.arm64`,
      `${A}  runc.amd64`,
      '-----BEGIN PGP SIGNATURE-----',
      '',
      `${'c'.repeat(64)}  runc.amd64`,
      '-----END PGP SIGNATURE-----',
    ].join('\n');
    assert.deepEqual(parseChecksumFile(text, 'sha256', 'runc.amd64'), { hex: A });
  });

  it('says what is wrong with an unusable file', () => {
    const missing = parseChecksumFile(`${B}  other\n`, 'sha256', 'runc.amd64');
    assert.ok('problem' in missing && /lists no sha256 for runc.amd64/.test(missing.problem));
    const html = parseChecksumFile('<html>mirror index</html>', 'sha256', 'x');
    assert.ok('problem' in html && /holds no sha256/.test(html.problem));
    const wrongAlgo = parseChecksumFile(A, 'sha512', 'x');
    assert.ok('problem' in wrongAlgo);
    const twoBare = parseChecksumFile(`${A}\n${B}\n`, 'sha256', 'x');
    assert.ok('problem' in twoBare && /2 digests/.test(twoBare.problem));
  });
});

describe('versions', () => {
  it('orders releases and runc-style release candidates', () => {
    assert.ok(versionAtLeast('v1.16.0', 'v1.16.0'));
    assert.ok(!versionAtLeast('v1.15.12', 'v1.16.0'));
    assert.ok(versionAtLeast('v1.0.0-rc92', 'v1.0.0-rc4'));
    assert.ok(!versionAtLeast('v1.0.0-rc3', 'v1.0.0-rc4'));
    assert.ok(versionAtLeast('v1.0.0', 'v1.0.0-rc95'));
    assert.ok(versionAtLeast('1.3.5', '1.3.5'));
    assert.ok(!versionAtLeast('1.3.4', '1.3.5'));
    assert.equal(parseVersion('latest'), undefined);
    assert.ok(compareVersions(parseVersion('v1.1.0-rc.10')!, parseVersion('v1.1.0-rc.9')!) > 0);
  });
});
