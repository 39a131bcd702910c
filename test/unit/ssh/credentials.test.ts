import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bootstrapPasswordPath, passwordLookup } from '../../../src/ssh/credentials.js';
import { processTempDir } from '../../support/temp-dir.js';

test('the bootstrap-password file wins over the environment; one trailing newline is dropped', async () => {
  const inv = processTempDir('kprov-inv-');
  mkdirSync(path.join(inv, 'credentials'));
  writeFileSync(bootstrapPasswordPath(inv), 'file secret \n', { mode: 0o600 });
  const lookup = passwordLookup({ inventoryDir: inv, env: { KPROV_SSH_PASSWORD: 'env' }, prompt: undefined });
  assert.deepEqual(await lookup.stored(), { password: 'file secret ', source: 'credentials/bootstrap-password' });
});

test('then $KPROV_SSH_PASSWORD; the prompt is separate and asked once', async () => {
  const inv = processTempDir('kprov-inv-');
  let asked = 0;
  const prompt = async () => {
    asked++;
    await new Promise((r) => setTimeout(r, 10));
    return 'typed';
  };
  const withEnv = passwordLookup({ inventoryDir: inv, env: { KPROV_SSH_PASSWORD: 'env' }, prompt });
  assert.equal((await withEnv.stored())?.source, '$KPROV_SSH_PASSWORD');
  const none = passwordLookup({ inventoryDir: inv, env: {}, prompt });
  assert.equal(await none.stored(), undefined);
  const answers = await Promise.all(Array.from({ length: 20 }, () => none.prompted()));
  assert.equal(asked, 1);
  assert.ok(answers.every((a) => a?.password === 'typed' && a.source === 'the password prompt'));
  const noTty = passwordLookup({ inventoryDir: inv, env: {}, prompt: undefined });
  assert.equal(await noTty.prompted(), undefined);
});
