import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../../src/paths.js';
import { runCli } from '../../support/run-cli.js';

const fixtures = path.join(packageRoot, 'test', 'fixtures', 'inventories');
const sample = path.join(packageRoot, 'inventory', 'sample');
const temps: string[] = [];
after(() => Promise.all(temps.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'kprov-cli-inv-'));
  temps.push(d);
  return d;
}

interface ShowJson {
  hosts: { name: string; address: string; ip: string | null; access_ip: string | null; groups: string[]; vars: Record<string, unknown> }[];
  groups: Record<string, string[]>;
}

async function showJson(dir: string): Promise<ShowJson> {
  const r = await runCli(['inventory', 'show', '-i', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ShowJson;
}

test('show --json prints exactly one JSON object with hosts and groups', async () => {
  const r = await runCli(['inventory', 'show', '-i', sample, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const json = JSON.parse(r.stdout) as ShowJson;
  assert.deepEqual(Object.keys(json), ['hosts', 'groups']);
  assert.deepEqual(json.hosts[0], {
    name: 'node1',
    address: '10.0.0.11',
    ip: '10.0.0.11',
    access_ip: null,
    groups: ['all', 'etcd', 'k8s_cluster', 'kube_control_plane'],
    vars: json.hosts[0]!.vars,
  });
  assert.deepEqual(Object.keys(json.hosts[0]!), ['name', 'address', 'ip', 'access_ip', 'groups', 'vars']);
  assert.equal(json.hosts[0]!.vars['kube_version'], 'v1.13.5');
  assert.equal(json.hosts[0]!.vars['skydns_server'], '10.233.0.3');
  assert.equal(json.hosts[0]!.vars['etcd_version'], 'v3.2.24');
  assert.equal(json.hosts[3]!.vars['etcd_version'], undefined, 'group_vars/etcd.yml applies to etcd hosts only');
  assert.deepEqual(json.groups['kube_node'], ['node4', 'node5']);
});

test('inventory show --json: a Kubespray v2.9 inventory and a current one are the same model apart from paths', async () => {
  const oldDir = path.join(fixtures, 'kubespray-2.9');
  const newDir = path.join(fixtures, 'kubespray-current');
  const strip = (json: ShowJson, dir: string) => JSON.parse(JSON.stringify(json).split(dir).join('<inventory>')) as ShowJson;
  const old = strip(await showJson(oldDir), oldDir);
  const current = strip(await showJson(newDir), newDir);
  assert.deepEqual(old, current);
  assert.equal(old.hosts.length, 5);
  assert.deepEqual(old.groups['etcd'], ['node1', 'node2', 'node3']);
  assert.equal(old.hosts[0]!.vars['credentials_dir'], '<inventory>/credentials');
});

test('show prints a table of hosts, addresses and groups, and the cluster settings', async () => {
  const r = await runCli(['inventory', 'show', '-i', 'inventory/sample'], { cwd: packageRoot });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'inventory inventory/sample/inventory.ini');
  assert.match(r.stdout, /^HOST +ADDRESS +IP +ACCESS_IP +GROUPS$/m);
  assert.match(r.stdout, /^node1 +10\.0\.0\.11 +10\.0\.0\.11 +- +etcd, k8s_cluster, kube_control_plane$/m);
  assert.match(r.stdout, /^node5 +10\.0\.0\.15 +10\.0\.0\.15 +- +k8s_cluster, kube_node$/m);
  assert.match(r.stdout, /^Kubernetes v1\.13\.5, etcd v3\.2\.24, containerd 1\.2\.6, kube-proxy iptables$/m);
  assert.match(r.stdout, /services 10\.233\.0\.0\/18 \(API 10\.233\.0\.1:6443, DNS 10\.233\.0\.3\), pods 10\.233\.64\.0\/18/);
});

test('show mentions warnings on stderr without listing them', async () => {
  const r = await runCli(['inventory', 'show', '-i', path.join(fixtures, 'kubespray-2.9')], { cwd: packageRoot });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^\d+ warnings; see them with: kprov inventory check -i test\/fixtures\/inventories\/kubespray-2\.9\n$/);
});

test('which inventory: -i, else $KPROV_INVENTORY, else the one directory under ./inventory', async () => {
  const cwd = await tempDir();
  const none = await runCli(['inventory', 'show'], { cwd });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^error: no inventory: .*\n  create one with: kprov init inventory\/mycluster/);

  await mkdir(path.join(cwd, 'inventory'));
  await cp(sample, path.join(cwd, 'inventory', 'sample'), { recursive: true });
  const onlySample = await runCli(['inventory', 'show'], { cwd });
  assert.equal(onlySample.code, 2);

  await cp(sample, path.join(cwd, 'inventory', 'prod'), { recursive: true });
  await writeFile(path.join(cwd, 'inventory', 'README'), 'not an inventory\n');
  const one = await runCli(['inventory', 'show', '--json'], { cwd });
  assert.equal(one.code, 0, one.stderr);

  await cp(sample, path.join(cwd, 'inventory', 'staging'), { recursive: true });
  const several = await runCli(['inventory', 'show'], { cwd });
  assert.equal(several.code, 2);
  assert.match(several.stderr, /^error: several inventories under inventory\/: prod, staging\n  choose one with -i/);

  const byEnv = await runCli(['inventory', 'check'], { cwd, env: { KPROV_INVENTORY: 'inventory/staging' } });
  assert.equal(byEnv.code, 0, byEnv.stderr);
  const byOption = await runCli(['inventory', 'check', '-i', 'inventory/prod'], { cwd, env: { KPROV_INVENTORY: 'nowhere' } });
  assert.equal(byOption.code, 0, byOption.stderr);

  const missing = await runCli(['inventory', 'check', '-i', 'inventory/nope'], { cwd });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: inventory inventory\/nope \(from -i\) does not exist\n/);
  const missingEnv = await runCli(['inventory', 'check'], { cwd, env: { KPROV_INVENTORY: 'gone' } });
  assert.match(missingEnv.stderr, /^error: inventory gone \(from KPROV_INVENTORY\) does not exist\n/);
});

test('init then show: the scaffolded inventory loads', async () => {
  const cwd = await tempDir();
  const init = await runCli(['init', 'inventory/c1', '--hosts', '10.1.0.1,10.1.0.2,10.1.0.3,10.1.0.4'], { cwd });
  assert.equal(init.code, 0, init.stderr);
  const json = await showJson(path.join(cwd, 'inventory', 'c1'));
  assert.deepEqual(json.groups['kube_control_plane'], ['node1', 'node2', 'node3']);
  assert.deepEqual(json.groups['kube_node'], ['node1', 'node2', 'node3', 'node4']);
  assert.equal(json.hosts[3]!.access_ip, '10.1.0.4');
});
