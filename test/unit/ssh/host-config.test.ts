import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { KprovError } from '../../../src/errors.js';
import type { InventoryHost } from '../../../src/inventory/model.js';
import { clusterKeyType, sshHostConfig } from '../../../src/ssh/host-config.js';

const host = (vars: Record<string, unknown>, name = 'node1'): InventoryHost => ({
  name,
  address: '10.0.0.1',
  groups: ['all'],
  vars,
});

test('defaults: root on port 22, no sudo, ed25519', () => {
  assert.deepEqual(sshHostConfig(host({}), '/inv'), {
    name: 'node1',
    address: '10.0.0.1',
    port: 22,
    user: 'root',
    privateKeyFile: undefined,
    become: false,
    becomeUser: 'root',
    keyType: 'ed25519',
  });
});

test('INI strings are typed; a non-root user becomes root unless told otherwise', () => {
  const c = sshHostConfig(host({ ansible_port: '2222', ansible_user: 'kprov', ssh_key_type: 'rsa' }), '/inv');
  assert.equal(c.port, 2222);
  assert.equal(c.become, true);
  assert.equal(c.keyType, 'rsa');
  assert.equal(sshHostConfig(host({ ansible_user: 'kprov', ansible_become: 'no' }), '/inv').become, false);
  assert.equal(sshHostConfig(host({ ansible_user: 'kprov', ansible_become: false }), '/inv').become, false);
  // Root becoming root needs no sudo even when ansible_become is set, as Kubespray sets it.
  assert.equal(sshHostConfig(host({ ansible_become: 'true' }), '/inv').become, false);
  assert.equal(sshHostConfig(host({ ansible_ssh_user: 'ops', ansible_ssh_port: 2200 }), '/inv').user, 'ops');
});

test('key file paths: ~ is the home directory, relative paths start at the inventory', () => {
  assert.equal(sshHostConfig(host({ ansible_ssh_private_key_file: '~/.ssh/id_x' }), '/inv').privateKeyFile, `${os.homedir()}/.ssh/id_x`);
  assert.equal(sshHostConfig(host({ ansible_ssh_private_key_file: 'keys/id' }), '/inv').privateKeyFile, '/inv/keys/id');
});

test('bad values are inventory errors naming the host and the variable', () => {
  for (const [vars, pattern] of [
    [{ ansible_port: '70000' }, /node7: ansible_port/],
    [{ ansible_port: 'ssh' }, /node7: ansible_port/],
    [{ ansible_user: 'a b' }, /node7: ansible_user/],
    [{ ansible_become: 'maybe' }, /node7: ansible_become/],
    [{ ssh_key_type: 'dsa' }, /node7: ssh_key_type/],
  ] as const) {
    assert.throws(
      () => sshHostConfig(host(vars, 'node7'), '/inv'),
      (err: unknown) => err instanceof KprovError && err.code === 'inventory' && err.host === 'node7' && pattern.test(err.message),
    );
  }
});

test('the cluster has one key type', () => {
  const a = sshHostConfig(host({}), '/inv');
  const b = sshHostConfig(host({ ssh_key_type: 'rsa' }, 'node2'), '/inv');
  assert.equal(clusterKeyType([a, a]), 'ed25519');
  assert.equal(clusterKeyType([]), 'ed25519');
  assert.throws(() => clusterKeyType([a, b]), /ssh_key_type differs/);
});
