import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blobOfPublicKeyLine, keyTypeOfBlob, sha256Fingerprint } from '../../../src/ssh/fingerprint.js';
import { needsCommands } from '../../support/needs-commands.js';
import { keygen, sshKeygen } from '../../support/ssh-keygen.js';
import { processTempDir } from '../../support/temp-dir.js';

test('fingerprints match ssh-keygen -l for ed25519, ecdsa and rsa keys', needsCommands('ssh-keygen'), () => {
  const dir = processTempDir();
  for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
    const key = sshKeygen(dir, `k-${type}`, type);
    const expected = /(SHA256:[A-Za-z0-9+/]+)/.exec(keygen(['-l', '-E', 'sha256', '-f', `${key.privatePath}.pub`]))?.[1];
    const blob = blobOfPublicKeyLine(key.publicLine);
    assert.equal(sha256Fingerprint(blob), expected, type);
    assert.equal(keyTypeOfBlob(blob), key.publicLine.split(' ')[0]);
  }
});
