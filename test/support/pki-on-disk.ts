/** A PKI freshly issued into a temporary directory, and what every PKI error must carry. */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { KprovError } from '../../src/errors.js';
import { ensurePki, type PkiInput } from '../../src/pki/index.js';
import { snapshot } from './dir-snapshot.js';
import { smallCluster } from './pki-small-cluster.js';
import { tempDir } from './temp-dir.js';

const DAY = 24 * 60 * 60 * 1000;
/** The moment `n` days from now. */
export const days = (n: number) => new Date(Date.now() + n * DAY);

/** An assert.rejects matcher: a 'pki' KprovError with this message, located in `file`, with a hint. */
export function isPkiError(file: string, message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof KprovError, String(err));
    assert.equal(err.code, 'pki');
    assert.match(err.message, message);
    assert.ok(err.location?.file.endsWith(file), `location ${err.location?.file} should end with ${file}`);
    assert.ok(err.hint, 'has a hint');
    return true;
  };
}

/** A new PKI for `input` in a directory removed after the test, and a snapshot of it. */
export async function freshPki(t: TestContext, input: PkiInput = smallCluster({ keyAlgorithm: 'ecdsa-p256' })) {
  const dir = path.join(await tempDir(t), 'pki');
  await ensurePki(dir, input);
  return { dir, input, before: await snapshot(dir) };
}
