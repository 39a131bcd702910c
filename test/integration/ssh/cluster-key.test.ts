import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { spawnSync } from 'node:child_process';
import ssh2 from 'ssh2';
import { clusterKeyPath, ensureClusterKey, isSoundPair } from '../../../src/ssh/cluster-key.js';
import { needsCommands } from '../../support/needs-commands.js';
import { keygen } from '../../support/ssh-keygen.js';
import { processTempDir } from '../../support/temp-dir.js';

for (const type of ['ed25519', 'rsa'] as const) {
  test(`a new ${type} cluster key is accepted by ssh-keygen -y and kept private`, needsCommands('ssh-keygen'), async () => {
    const inv = processTempDir('kprov-inv-');
    const { key, created } = await ensureClusterKey(inv, type);
    assert.equal(created, true);
    const file = clusterKeyPath(inv, type);
    assert.equal(key.privateKeyPath, file);
    assert.equal(path.basename(file), type === 'rsa' ? 'id_rsa' : 'id_ed25519');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    // OpenSSH itself derives the same public key from our private key file.
    const derived = keygen(['-y', '-f', file]).trim().split(' ').slice(0, 2).join(' ');
    assert.equal(derived, key.publicKeyBody);
    assert.equal(readFileSync(`${file}.pub`, 'utf8').trim(), key.publicKey);
    const fp = /(SHA256:\S+)/.exec(keygen(['-l', '-E', 'sha256', '-f', file]))?.[1];
    assert.equal(key.fingerprint, fp);
    if (type === 'rsa') assert.match(keygen(['-l', '-f', file]), /^4096 /);
    // The private key never shows up when the object is logged or serialized.
    const secret = readFileSync(file, 'utf8').split('\n')[1]!;
    assert.ok(!inspect(key, { depth: 5 }).includes(secret));
    assert.ok(!JSON.stringify(key).includes(secret));
    assert.ok(key.privateKeyText().includes(secret));
  });
}

test('the check for ssh2 ed25519 pairs with a dropped zero byte agrees with ssh-keygen', needsCommands('ssh-keygen'), () => {
  const dir = processTempDir('kprov-keys-');
  // About one pair in 256 is malformed (mscdex/ssh2#1390); find one, bounded.
  let bad: { private: string; public: string } | undefined;
  let good: { private: string; public: string } | undefined;
  for (let i = 0; i < 5000 && !(bad && good); i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'probe' });
    if (isSoundPair(pair)) good ??= pair;
    else bad ??= pair;
  }
  assert.ok(bad && good, 'expected both a sound and a malformed pair within 5000 tries');
  const check = (pair: { private: string }, name: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, pair.private, { mode: 0o600 });
    return spawnSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).status;
  };
  assert.equal(check(good, 'good'), 0);
  assert.notEqual(check(bad, 'bad'), 0, 'OpenSSH rejects what isSoundPair rejects');
});
