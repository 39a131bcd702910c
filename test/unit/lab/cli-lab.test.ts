/** Usage errors of `kprov lab`, caught before anything needs root or touches the machine. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../support/run-cli.js';
import { recipeHash } from '../../../src/lab/base-image.js';

test('lab up rejects a bad --hosts or --name with exit 2 and one line', async () => {
  for (const args of [['--hosts', '0'], ['--hosts', '51'], ['--hosts', 'x'], ['--name', 'UPPER'], ['--boot-timeout', 'soon']]) {
    const r = await runCli(['lab', 'up', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^error: (--hosts|--name|--boot-timeout)/);
  }
});

test('lab exec needs a host and a command', async () => {
  const r = await runCli(['lab', 'exec', 'node1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing required argument 'command'/);
});

test('lab status with no labs says how to start one', async () => {
  const state = await mkdtemp(path.join(tmpdir(), 'kprov-nolabs-'));
  const r = await runCli(['lab', 'status'], { env: { KPROV_LAB_STATE: state } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'No labs. Start one with: kprov lab up\n');
  const json = await runCli(['lab', 'status', '--json'], { env: { KPROV_LAB_STATE: state } });
  assert.deepEqual(JSON.parse(json.stdout), []);
});

test('lab up --authorized-key must be an OpenSSH public key', async () => {
  const r = await runCli(['lab', 'up', '--authorized-key', '/nonexistent/key.pub']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: cannot read --authorized-key/);
});

test('the base image name changes with the recipe', () => {
  const recipe = { suite: 'bookworm', variant: 'minbase', packages: ['systemd'], mirror: 'http://a.example/debian' };
  const h = recipeHash(recipe);
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.equal(recipeHash({ ...recipe }), h);
  assert.notEqual(recipeHash({ ...recipe, mirror: 'http://b.example/debian' }), h);
  assert.notEqual(recipeHash({ ...recipe, packages: ['systemd', 'curl'] }), h);
  assert.notEqual(recipeHash({ ...recipe, suite: 'trixie' }), h);
});
