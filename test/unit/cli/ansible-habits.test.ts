import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolvePlaybookPath } from '../../../src/engine/playbook.js';
import { playbooksDir } from '../../../src/paths.js';
import { runCli } from '../../support/run-cli.js';

test('an Ansible option kprov lacks exits 2 naming what to use instead', async () => {
  const r = await runCli(['apply', 'cluster', '--ask-become-pass']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: unknown option '--ask-become-pass'\n  kprov: kprov runs sudo without a password: give the SSH user passwordless sudo \(ansible_become: true\)$/m);
  const vault = await runCli(['plan', 'cluster', '--vault-password-file', 'x']);
  assert.equal(vault.code, 2);
  assert.match(vault.stderr, /kprov cannot read ansible-vault files/);
});

test('cluster.yml as a Kubespray user types it is kprov\'s playbook, unless a file of that name is here', async (t) => {
  const cwd = await mkdtemp(path.join(tmpdir(), 'kprov-playbook-'));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  assert.equal(await resolvePlaybookPath('cluster.yml', playbooksDir, cwd), path.join(playbooksDir, 'cluster.yml'));
  assert.equal(await resolvePlaybookPath('cluster', playbooksDir, cwd), path.join(playbooksDir, 'cluster.yml'));
  assert.equal(await resolvePlaybookPath('mine.yml', playbooksDir, cwd), path.join(cwd, 'mine.yml'));
});
