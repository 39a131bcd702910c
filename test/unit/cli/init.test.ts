import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../support/run-cli.js';
import { readdirSync } from 'node:fs';
import { packageRoot } from '../../../src/paths.js';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'kprov-init-'));
}

test('init copies the sample inventory and prints the next step', async () => {
  const cwd = await tempDir();
  const r = await runCli(['init', 'inventory/mycluster'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Next: .*kprov apply cluster -i inventory\/mycluster/);
  await stat(path.join(cwd, 'inventory/mycluster/inventory.ini'));
  await stat(path.join(cwd, 'inventory/mycluster/group_vars/all'));
});

test('init --hosts lays hosts out as Kubespray\'s inventory builder does', async () => {
  const cwd = await tempDir();
  const r = await runCli(['init', 'c1', '--hosts', '10.1.0.1,10.1.0.2,10.1.0.3,10.1.0.4'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const ini = await readFile(path.join(cwd, 'c1/inventory.ini'), 'utf8');
  assert.match(ini, /^node1 ansible_host=10\.1\.0\.1 ip=10\.1\.0\.1 access_ip=10\.1\.0\.1$/m);
  assert.match(ini, /^node4 ansible_host=10\.1\.0\.4 /m);
  const section = (name: string) => ini.split(`[${name}]\n`)[1]!.split('\n\n')[0]!.split('\n');
  assert.deepEqual(section('kube_control_plane'), ['node1', 'node2', 'node3']);
  assert.deepEqual(section('etcd'), ['node1', 'node2', 'node3']);
  assert.deepEqual(section('kube_node'), ['node1', 'node2', 'node3', 'node4']);
  assert.deepEqual(section('k8s_cluster:children'), ['kube_control_plane', 'kube_node', '']);
});

test('init with fewer than three hosts puts all of them in the control plane', async () => {
  const cwd = await tempDir();
  const r = await runCli(['init', 'c1', '--hosts', '10.1.0.1'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const ini = await readFile(path.join(cwd, 'c1/inventory.ini'), 'utf8');
  assert.match(ini, /\[kube_control_plane\]\nnode1\n\n/);
});

test('init refuses to overwrite an inventory without --force', async () => {
  const cwd = await tempDir();
  await mkdir(path.join(cwd, 'c1'));
  await writeFile(path.join(cwd, 'c1/inventory.ini'), '[all]\n');
  const r = await runCli(['init', 'c1'], { cwd });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /already exists.*\n.*--force/);
  assert.equal(await readFile(path.join(cwd, 'c1/inventory.ini'), 'utf8'), '[all]\n');
  const forced = await runCli(['init', 'c1', '--force'], { cwd });
  assert.equal(forced.code, 0, forced.stderr);
});

test('init rejects a malformed --hosts list with exit 2', async () => {
  const cwd = await tempDir();
  for (const hosts of ['10.0.0.1,10.0.0.1', 'bad host', ',']) {
    const r = await runCli(['init', 'c1', '--hosts', hosts], { cwd });
    assert.equal(r.code, 2, `--hosts ${hosts}`);
    assert.match(r.stderr, /^error: --hosts/);
  }
});

test('--version and --help exit 0; an unknown command exits 2', async () => {
  const v = await runCli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+/);
  const h = await runCli(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /init/);
  const bad = await runCli(['frobnicate']);
  assert.equal(bad.code, 2);
});

test('apply --help lists every playbook kprov ships', async () => {
  const help = await runCli(['apply', '--help']);
  assert.equal(help.code, 0);
  const shipped = readdirSync(path.join(packageRoot, 'playbooks')).filter((f) => f.endsWith('.yml')).map((f) => f.slice(0, -4)).sort();
  const listed = [...help.stdout.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]!).filter((n) => shipped.includes(n)).sort();
  assert.deepEqual(listed, shipped);
});
