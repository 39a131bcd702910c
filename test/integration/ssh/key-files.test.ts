/**
 * ansible_ssh_private_key_file is checked before any host is contacted: `kprov inventory check`
 * reports every bad key file at once (exit 2) and `kprov apply`/`plan` refuses to start. The
 * broken fixtures (missing, a directory, not a key, a public key) are also in
 * test/unit/cli/inventory-broken.test.ts; here, inventories made with real ssh-keygen keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadInventory } from '../../../src/inventory/load.js';
import { packageRoot } from '../../../src/paths.js';
import { checkKeyFiles } from '../../../src/ssh/key-files.js';
import { runCli } from '../../support/run-cli.js';
import { sshKeygen } from '../../support/ssh-keygen.js';
import { processTempDir as tempDir } from '../../support/temp-dir.js';

const INI = `[all]
node1 ansible_host=10.0.0.11
node2 ansible_host=10.0.0.12

[kube_control_plane]
node1

[etcd]
node1

[kube_node]
node2
`;

/** A temporary inventory whose group_vars/all.yml is `vars`; returns its directory. */
async function inventoryWith(vars: string): Promise<string> {
  const dir = tempDir('kprov-keyfile-');
  await writeFile(path.join(dir, 'inventory.ini'), INI);
  await mkdir(path.join(dir, 'group_vars'));
  await writeFile(path.join(dir, 'group_vars', 'all.yml'), vars);
  return dir;
}

test('a good key (relative to the inventory, mode 0600) passes without a word', async () => {
  const dir = await inventoryWith('ansible_ssh_private_key_file: keys/id_ed25519\n');
  await mkdir(path.join(dir, 'keys'));
  sshKeygen(path.join(dir, 'keys'), 'id_ed25519', 'ed25519');
  await chmod(path.join(dir, 'keys', 'id_ed25519'), 0o600);
  assert.deepEqual(await checkKeyFiles(await loadInventory(dir)), { errors: [], warnings: [] });
  const r = await runCli(['inventory', 'check', '-i', dir], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^inventory OK: 2 hosts/);
});

test('an RSA key in PEM form and the older ansible_private_key_file spelling are accepted too', async () => {
  const dir = await inventoryWith('ansible_private_key_file: "{{ inventory_dir }}/id_rsa"\n');
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', path.join(dir, 'id_rsa')]);
  await chmod(path.join(dir, 'id_rsa'), 0o400);
  assert.deepEqual(await checkKeyFiles(await loadInventory(dir)), { errors: [], warnings: [] });
});

test('a key others can read is a warning (OpenSSH refuses it), not an error', async () => {
  const dir = await inventoryWith('---\nansible_ssh_private_key_file: id_ed25519\n');
  sshKeygen(dir, 'id_ed25519', 'ed25519');
  await chmod(path.join(dir, 'id_ed25519'), 0o644);
  const r = await runCli(['inventory', 'check', '-i', dir], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    `warning: group_vars/all.yml:2:1: ansible_ssh_private_key_file: ${dir}/id_ed25519 has mode 0644: group or others can access it, and OpenSSH refuses such a key (chmod 600 ${dir}/id_ed25519)\n`,
  );
  assert.match(r.stdout, /, 1 warning\n$/);
});

test('a key encrypted with a passphrase is a key, with a warning that kprov cannot unlock it', async () => {
  const dir = await inventoryWith('ansible_ssh_private_key_file: id_locked\n');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-f', path.join(dir, 'id_locked')]);
  await chmod(path.join(dir, 'id_locked'), 0o600);
  const report = await checkKeyFiles(await loadInventory(dir));
  assert.deepEqual(report.errors, []);
  assert.deepEqual(report.warnings.map((w) => [w.code, w.location?.line, w.message]), [
    ['key-file', 1, `ansible_ssh_private_key_file: ${dir}/id_locked is encrypted with a passphrase, which kprov cannot ask for, so it will not log in with it; add it to an ssh-agent (ssh-add ${dir}/id_locked): kprov uses $SSH_AUTH_SOCK`],
  ]);
});

test('inventory check lists every bad key file at once, each where it was set, and exits 2', async () => {
  const dir = await inventoryWith('ansible_ssh_private_key_file: keys\n');
  await mkdir(path.join(dir, 'keys'));
  await mkdir(path.join(dir, 'host_vars'));
  await writeFile(path.join(dir, 'host_vars', 'node2.yml'), '# node2 has its own\nansible_ssh_private_key_file: ~/.kprov-test-no-such-key\n');
  const r = await runCli(['inventory', 'check', '-i', dir], { cwd: dir });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(errors.length, 2, r.stderr);
  assert.match(errors[0]!, /^error: \[node1\] group_vars\/all\.yml:1:1: ansible_ssh_private_key_file: "keys" \(.*\/keys\) is a directory, not a key file; expected a readable SSH private key file$/);
  assert.match(errors[1]!, /^error: \[node2\] host_vars\/node2\.yml:2:1: ansible_ssh_private_key_file: "~\/\.kprov-test-no-such-key" \(\/.*\/\.kprov-test-no-such-key\) does not exist; expected a readable SSH private key file$/);
});

test('kprov plan refuses a missing key file before any host is contacted (exit 2)', async () => {
  const dir = tempDir('kprov-keyfile-plan-');
  await cp(path.join(packageRoot, 'test', 'fixtures', 'inventories', 'broken', 'key-file-missing'), dir, { recursive: true });
  const r = await runCli(['plan', 'cluster', '-i', dir], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error: group_vars\/all\.yml:2:1: ansible_ssh_private_key_file: "keys\/id_missing" \(.*\) does not exist; expected a readable SSH private key file\n {2}set for hosts node1, node2; a relative path is taken from the inventory directory\n$/);
});
