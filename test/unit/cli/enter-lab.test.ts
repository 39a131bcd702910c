import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { commandRequest, inventoryDirOf, labNamespaceOf, VALUE_OPTIONS } from '../../../src/cli/enter-lab.js';
import { buildProgram } from '../../../src/cli/main.js';
import { registerApply } from '../../../src/cli/apply.js';
import { registerEtcd } from '../../../src/cli/etcd.js';
import { registerEtcdctl } from '../../../src/cli/etcdctl.js';
import { registerDownload } from '../../../src/cli/download.js';
import type { CliIO } from '../../../src/cli/io.js';

const io: CliIO = { out: () => undefined, err: () => undefined, env: {}, cwd: '/', isTTY: false };

function valueOptionsOf(cmd: Command): string[] {
  return cmd.options.filter((o) => o.required || o.optional).flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined)).sort();
}

test('the option table knows every option taking a value of the commands that reach hosts', () => {
  const program = buildProgram(io, [registerApply, registerEtcd, registerEtcdctl, (p, i) => registerDownload(p, i)]);
  const find = (name: string, parent: Command = program) => parent.commands.find((c) => c.name() === name)!;
  const etcd = find('etcd');
  const commands: [string, Command][] = [
    ['apply', find('apply')],
    ['apply', find('plan')],
    ['etcd backup', find('backup', etcd)],
    ['etcd restore', find('restore', etcd)],
    ['etcdctl', find('etcdctl')],
    ['download', find('download')],
  ];
  for (const [key, cmd] of commands) assert.deepEqual([...VALUE_OPTIONS.get(key)!].sort(), valueOptionsOf(cmd), key);
});

test('the inventory of a command reaching hosts, in every way commander accepts it', () => {
  assert.deepEqual(commandRequest(['apply', 'cluster', '-i', 'inv']), { command: 'apply', inventory: 'inv' });
  assert.deepEqual(commandRequest(['plan', 'cluster', '--inventory=inv']), { command: 'apply', inventory: 'inv' });
  assert.deepEqual(commandRequest(['apply', '-iinv', 'cluster']), { command: 'apply', inventory: 'inv' });
  assert.deepEqual(commandRequest(['apply', 'cluster', '-bi', 'inv', '-vvv']), { command: 'apply', inventory: 'inv' });
  // A value that looks like -i belongs to the option before it.
  assert.deepEqual(commandRequest(['apply', 'cluster', '-e', '-i', '--limit', '-i']), { command: 'apply' });
  assert.deepEqual(commandRequest(['apply', 'cluster', '-l', 'node1', '--tags=etcd', '--inventory', 'inv']), { command: 'apply', inventory: 'inv' });
  assert.deepEqual(commandRequest(['etcdctl', '--host', 'node2', '-i', 'inv', '--', 'get', '-i', 'x']), { command: 'etcdctl', inventory: 'inv' });
  assert.deepEqual(commandRequest(['etcd', 'backup', '-o', 'f', '-i', 'inv']), { command: 'etcd backup', inventory: 'inv' });
  assert.deepEqual(commandRequest(['etcd', 'restore', 'snap.db', '--yes']), { command: 'etcd restore' });
  assert.deepEqual(commandRequest(['download', '--json', '-i', 'inv']), { command: 'download', inventory: 'inv' });
});

test('help, local commands, `etcd backup --list` and an option missing its value are left to the CLI', () => {
  for (const argv of [
    [],
    ['--version'],
    ['inventory', 'show', '-i', 'inv'],
    ['lab', 'status'],
    ['constructor'],
    ['etcd', 'backup', '--list', '-i', 'inv'],
    ['apply', 'cluster', '-i', 'inv', '--help'],
    ['apply', 'cluster', '-h'],
    ['apply', 'cluster', '-i'],
  ]) {
    assert.equal(commandRequest(argv), undefined, argv.join(' '));
  }
});

test('the inventory is resolved as the CLI resolves it; lab.json names the namespace', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-enter-lab-'));
  try {
    const inv = path.join(dir, 'inventory', 'lab');
    await mkdir(path.join(dir, 'inventory', 'sample'), { recursive: true });
    await mkdir(inv);
    await writeFile(path.join(inv, 'inventory.ini'), '[all]\n');
    assert.equal(inventoryDirOf(undefined, {}, dir), inv, 'the one directory under ./inventory');
    assert.equal(inventoryDirOf('inventory/lab/inventory.ini', {}, dir), inv, 'an INI file named: its directory');
    assert.equal(inventoryDirOf(undefined, { KPROV_INVENTORY: inv }, '/'), inv);
    assert.equal(inventoryDirOf('missing', {}, dir), undefined);
    await mkdir(path.join(dir, 'inventory', 'other'));
    assert.equal(inventoryDirOf(undefined, {}, dir), undefined, 'several: the CLI names them');

    assert.equal(labNamespaceOf(inv), undefined, 'no lab.json');
    await writeFile(path.join(inv, 'lab.json'), JSON.stringify({ name: 'demo', namespace: 'kprov-demo' }));
    assert.equal(labNamespaceOf(inv), 'kprov-demo');
    await writeFile(path.join(inv, 'lab.json'), JSON.stringify({ name: 'demo', namespace: '../../etc' }));
    assert.equal(labNamespaceOf(inv), undefined, 'a namespace that is not the lab\'s');
    await writeFile(path.join(inv, 'lab.json'), '{');
    assert.equal(labNamespaceOf(inv), undefined, 'broken JSON: the CLI reports it');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
