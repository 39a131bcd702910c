/**
 * The cluster PKI for a run (src/cluster/pki.ts): its input from the inventory's topology, once
 * per run, nothing written in a dry run, and the file tasks roles use to push certificates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { clusterPkiInput, loadClusterPki, pkiFileTasks } from '../../../src/cluster/pki.js';
import { HostState } from '../../../src/engine/host-state.js';
import type { Task, TaskContext } from '../../../src/engine/contract.js';
import { createClusterRun } from '../../../src/cluster/run.js';
import { FakeFleet, FakeHost } from '../../../dev/fake-fleet.js';
import { loadTestInventory, taskContext } from './test-cluster.js';

test('the PKI input follows the inventory: hosts, member names, endpoint, directories, key algorithm', async (t) => {
  const inventory = await loadTestInventory(t, {
    workers: 1,
    vars: { kube_cert_dir: '/srv/k8s/certs', supplementary_addresses_in_ssl_keys: ['api.example.test'] },
  });
  const input = clusterPkiInput(inventory);
  assert.equal(input.clusterName, 'cluster.local');
  assert.equal(input.serviceCidr, '10.233.0.0/18');
  assert.deepEqual(input.controlPlane.map((h) => [h.name, h.ip, h.accessIp, h.address]), [
    ['node1', '10.10.0.1', '10.10.0.1', '10.10.0.1'],
    ['node2', '10.10.0.2', '10.10.0.2', '10.10.0.2'],
    ['node3', '10.10.0.3', '10.10.0.3', '10.10.0.3'],
  ]);
  assert.deepEqual(input.etcd.map((h) => h.memberName), ['node1', 'node2', 'node3']);
  assert.deepEqual(input.nodes.map((h) => h.name), ['node1', 'node2', 'node3', 'node4']);
  assert.equal(input.apiserverEndpoint, 'https://10.10.0.1:6443');
  assert.deepEqual(input.remoteDirs, { cert: '/srv/k8s/certs', etcdCert: '/etc/ssl/etcd/ssl', config: '/etc/kubernetes', kubeletCert: '/var/lib/kubelet/pki' });
  assert.equal(input.keyAlgorithm, 'ecdsa-p256');
  assert.deepEqual(input.supplementaryAddresses, ['api.example.test']);
  assert.equal(input.loadBalancer, undefined);

  const lb = await loadTestInventory(t, { vars: { pki_key_algorithm: 'rsa-2048' } });
  assert.equal(clusterPkiInput(lb).keyAlgorithm, 'rsa-2048');
});

test('a load balancer is the endpoint and a SAN', async (t) => {
  const inventory = await loadTestInventory(t, { vars: {} });
  // Set through the typed cluster view, as an inventory with loadbalancer_apiserver would have it.
  const withLb = { ...inventory, cluster: { ...inventory.cluster, loadbalancer_apiserver: { address: '10.10.0.100', port: 8443 } } };
  const input = clusterPkiInput(withLb);
  assert.equal(input.apiserverEndpoint, 'https://10.10.0.100:8443');
  assert.deepEqual(input.loadBalancer, { address: '10.10.0.100', port: 8443 });
});

test('a dry run issues into a scratch copy and writes nothing under the inventory', async (t) => {
  const inventory = await loadTestInventory(t);
  const pki = await loadClusterPki(inventory, { dryRun: true });
  await assert.rejects(stat(path.join(inventory.dir, 'pki')), /ENOENT/);
  assert.ok(pki.report.created.includes('ca'));
  const files = pki.filesForHost('node1', ['etcd']);
  assert.deepEqual(files.map((f) => f.path), [
    '/etc/ssl/etcd/ssl/ca.crt',
    '/etc/ssl/etcd/ssl/healthcheck-client.crt',
    '/etc/ssl/etcd/ssl/healthcheck-client.key',
    '/etc/ssl/etcd/ssl/peer.crt',
    '/etc/ssl/etcd/ssl/peer.key',
    '/etc/ssl/etcd/ssl/server.crt',
    '/etc/ssl/etcd/ssl/server.key',
  ]);
  assert.match(files[0]!.content.toString(), /^-----BEGIN CERTIFICATE-----/);
  assert.deepEqual(files.filter((f) => f.secret).map((f) => path.basename(f.path)), ['healthcheck-client.key', 'peer.key', 'server.key']);
});

test('a real run issues under <inventory>/pki once, then reuses it; reissues become warnings', async (t) => {
  const inventory = await loadTestInventory(t);
  const run = createClusterRun(inventory);
  const first = run.pki();
  assert.equal(run.pki(), first, 'one PKI per run');
  const pki = await first;
  assert.equal((await stat(path.join(inventory.dir, 'pki'))).mode & 0o777, 0o700);
  assert.deepEqual(pki.warnings, []);
  const kubeconfigs = await pki.kubeconfigsForHost('node2', ['control-plane']);
  assert.deepEqual(kubeconfigs.map((k) => [k.path, k.mode.toString(8), k.secret]), [
    ['/etc/kubernetes/admin.conf', '600', true],
    ['/etc/kubernetes/controller-manager.conf', '600', true],
    ['/etc/kubernetes/scheduler.conf', '600', true],
  ]);
  assert.match(kubeconfigs[0]!.content.toString(), /server: https:\/\/127\.0\.0\.1:6443/);
  assert.match(await pki.adminKubeconfig(), /server: https:\/\/10\.10\.0\.1:6443/);

  const again = await loadClusterPki(inventory, { dryRun: false });
  assert.deepEqual(again.report.written, []);
  // A new SAN: the apiserver certificate is reissued and the user told.
  const changed = await loadTestInventory(t, { vars: { supplementary_addresses_in_ssl_keys: ['api.example.test'] } });
  const moved = { ...changed, dir: inventory.dir };
  const reissued = await loadClusterPki(moved, { dryRun: false });
  assert.deepEqual(reissued.warnings, ['certificate apiserver reissued: SANs changed (+DNS:api.example.test)']);
});

async function converge(tasks: readonly Task[], host: FakeHost, ctx: TaskContext): Promise<string[]> {
  const out: string[] = [];
  for (const task of tasks) {
    const changes = await task.check(host, ctx);
    if (changes.length > 0) await task.apply(host, changes, ctx);
    (ctx.state as HostState).recordChanged(changes.flatMap((c) => (c.path ? [c.path] : [])));
    out.push(...changes.map((c) => c.summary));
  }
  return out;
}

test('pkiFileTasks: directories and files with the plan\'s modes, root-owned, secrets never diffed; a no-op second time', async (t) => {
  const inventory = await loadTestInventory(t);
  const fleet = new FakeFleet(['node1']);
  const machine = fleet.machine('node1');
  const host = new FakeHost(machine);
  const ctx = taskContext(inventory, 'node1');
  const tasks = await pkiFileTasks(ctx, ['control-plane'], { notify: ['restart kube-apiserver'] });
  assert.deepEqual(tasks.slice(0, 3).map((x) => x.name), ['directory /etc/kubernetes', 'directory /etc/kubernetes/ssl', 'directory /etc/ssl/etcd/ssl']);
  assert.ok(tasks.slice(3).every((x) => x.notify?.includes('restart kube-apiserver')));
  const changes: { summary: string; diff?: string }[] = [];
  for (const task of tasks) {
    const c = await task.check(host, ctx);
    if (c.length > 0) await task.apply(host, c, ctx);
    changes.push(...c);
  }
  const key = machine.files.get('/etc/kubernetes/ssl/ca.key')!;
  assert.equal(key.mode, 0o600);
  assert.equal(key.owner, 'root');
  assert.equal(machine.files.get('/etc/kubernetes/ssl/ca.crt')!.mode, 0o644);
  assert.equal(machine.files.get('/etc/kubernetes/admin.conf')!.mode, 0o600);
  assert.equal(machine.dirs.get('/etc/ssl/etcd/ssl')!.mode, 0o700);
  assert.ok(machine.files.has('/etc/ssl/etcd/ssl/ca.crt'), 'the apiserver reads the etcd CA certificate');
  assert.ok(!machine.files.has('/etc/ssl/etcd/ssl/ca.key'), 'never the etcd CA key');
  for (const c of changes) assert.doesNotMatch(c.diff ?? '', /PRIVATE KEY-----\n[A-Za-z0-9+/]/, c.summary);
  assert.doesNotMatch(JSON.stringify(changes), /client-key-data: [A-Za-z0-9+/]{20}/);

  const fresh = { ...ctx, state: new HostState() };
  assert.deepEqual(await converge(tasks, host, fresh), [], 'second run changes nothing');
});

test('a file another play already changed in this run still notifies this role\'s service', async (t) => {
  const inventory = await loadTestInventory(t);
  const host = new FakeHost(new FakeFleet(['node1']).machine('node1'));
  const ctx = taskContext(inventory, 'node1');
  // The etcd role puts the etcd CA certificate first…
  await converge(await pkiFileTasks(ctx, ['etcd'], { notify: ['restart etcd'] }), host, ctx);
  assert.ok(ctx.state.changedPaths.includes('/etc/ssl/etcd/ssl/ca.crt'));
  // …then the control-plane role finds it in place, and still reports it so its restart runs.
  const cp = await pkiFileTasks(ctx, ['control-plane'], { notify: ['restart kube-apiserver'] });
  const etcdCa = cp.find((x) => x.name === 'pki /etc/ssl/etcd/ssl/ca.crt')!;
  assert.deepEqual((await etcdCa.check(host, ctx)).map((c) => c.summary), ['/etc/ssl/etcd/ssl/ca.crt changed earlier in this run']);
  // In a later run nothing changed earlier: nothing to report.
  assert.deepEqual(await etcdCa.check(host, { ...ctx, state: new HostState() }), []);
});
