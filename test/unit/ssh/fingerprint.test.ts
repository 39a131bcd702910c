import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blobOfPublicKeyLine, keyTypeOfBlob } from '../../../src/ssh/fingerprint.js';

// Fingerprints against ssh-keygen itself: test/integration/ssh/fingerprint.test.ts.

test('malformed key lines are rejected', () => {
  assert.throws(() => blobOfPublicKeyLine('ssh-ed25519'), /not an OpenSSH public key/);
  assert.throws(() => blobOfPublicKeyLine('ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIEpzXPOjuUgpY+W/nSCDf6UFlobMhFM0oTLXCpZUK+fL'), /does not match/);
  assert.throws(() => keyTypeOfBlob(Buffer.from([0, 0])), /too short/);
});
