/**
 * The kube-apiserver stand-in against real etcd 3.4 with client-certificate auth, inside a private
 * network namespace: storage mTLS, health that follows etcd, authentication and authorization.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Scenario } from './support/scenario.js';
import { waitFor, type Proc } from './support/netns.js';
import { etcdBinary } from './support/scenario.js';

let s: Scenario;
let etcd: Proc;

before(async () => {
  s = await Scenario.create();
  etcd = await s.startEtcd();
});

after(async () => {
  await s?.destroy();
});

test('an etcd client certificate etcd does not trust stops the apiserver with the storage error', async () => {
  const rogueCa = await s.pki.ca('rogue-ca', 'rogue');
  const rogue = await s.pki.issue(rogueCa, 'rogue-etcd-client', { cn: 'kube-apiserver-etcd-client', usage: 'client' });
  const started = Date.now();
  const r = await s.run('kube-apiserver', s.apiserverArgs([`--etcd-certfile=${rogue.cert}`, `--etcd-keyfile=${rogue.key}`]));
  assert.notEqual(r.code, 0);
  const last = r.stderr.trim().split('\n').at(-1)!;
  assert.match(last, /^F\d{4} .*Unable to create storage backend: .*https:\/\/127\.0\.0\.1:2379/);
  assert.ok(Date.now() - started < 15_000, 'a certificate problem is not retried for the whole storage wait');
});

test('an etcd CA that does not match the etcd server certificate is refused too', async () => {
  const r = await s.run('kube-apiserver', s.apiserverArgs([`--etcd-cafile=${s.certs.ca.cert}`]));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Unable to create storage backend/);
});

test('serves version and discovery, stores nodes under /registry/minions, enforces RBAC and the Node authorizer', async () => {
  const apiserver = await s.startApiserver();
  try {
    // kubeadm's --insecure-port=0 (these arguments) leaves 8080 closed.
    assert.equal((await s.probe({ url: 'http://127.0.0.1:8080/healthz' })).error, 'ECONNREFUSED');
    const version = await s.api(undefined, 'GET', '/version');
    assert.equal(version.status, 200);
    assert.equal(JSON.parse(version.body!).gitVersion, 'v1.13.5');

    // Anonymous may read health and discovery, nothing else.
    const anonymousList = await s.api(undefined, 'GET', '/api/v1/nodes');
    assert.equal(anonymousList.status, 403);
    assert.match(JSON.parse(anonymousList.body!).message, /User "system:anonymous" cannot list resource "nodes"/);
    assert.equal((await s.api(undefined, 'GET', '/api/v1')).status, 200);

    // A client certificate from another CA is not a user: 401.
    const otherCa = await s.pki.ca('other-ca', 'other');
    const stranger = await s.pki.issue(otherCa, 'stranger', { cn: 'kubernetes-admin', o: ['system:masters'], usage: 'client' });
    assert.equal((await s.api(stranger, 'GET', '/api/v1/nodes')).status, 401);

    // A node registers itself; NodeRestriction stops it touching another node.
    const n1 = await s.nodeCert('n1');
    const created = await s.api(n1, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
    assert.equal(created.status, 201, created.body);
    const other = await s.api(n1, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } });
    assert.equal(other.status, 403);
    assert.match(JSON.parse(other.body!).message, /node "n1" cannot modify node "n2"/);
    const patched = await s.api(n1, 'PATCH', '/api/v1/nodes/n1/status', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, 'application/strategic-merge-patch+json');
    assert.equal(patched.status, 200, patched.body);
    // The controller-manager identity may not create nodes.
    const cmCreate = await s.api(s.certs.controllerManager, 'POST', '/api/v1/nodes', { metadata: { name: 'x' } });
    assert.equal(cmCreate.status, 403);

    // The object really is in etcd, under the v1.13 key, read back with the real etcdctl.
    const etcdctl = path.join(path.dirname(await etcdBinary()), 'etcdctl');
    const c = s.certs;
    const got = await s.ns.run(etcdctl, ['--endpoints=https://127.0.0.1:2379', `--cacert=${c.etcdCa.cert}`, `--cert=${c.apiserverEtcdClient.cert}`, `--key=${c.apiserverEtcdClient.key}`, 'get', '/registry/minions/n1', '--print-value-only'], {
      env: { ETCDCTL_API: '3' },
    });
    assert.equal(got.code, 0, got.stderr);
    const stored = JSON.parse(got.stdout) as { kind: string; metadata: { name: string }; status: { conditions: Array<{ type: string }> } };
    assert.equal(stored.kind, 'Node');
    assert.equal(stored.status.conditions[0]!.type, 'Ready');

    // Updates with a stale resourceVersion conflict.
    const current = JSON.parse((await s.api(s.certs.admin, 'GET', '/api/v1/nodes/n1')).body!) as { metadata: { resourceVersion: string } };
    const first = await s.api(s.certs.admin, 'PUT', '/api/v1/nodes/n1', { ...current, metadata: { ...current.metadata, labels: { a: '1' } } });
    assert.equal(first.status, 200, first.body);
    const stale = await s.api(s.certs.admin, 'PUT', '/api/v1/nodes/n1', { ...current, metadata: { ...current.metadata, labels: { a: '2' } } });
    assert.equal(stale.status, 409);
    assert.equal(JSON.parse(stale.body!).reason, 'Conflict');

    // Leader-election endpoints: the scheduler identity may create and update its own lock only.
    const lock = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kube-scheduler', namespace: 'kube-system' } };
    assert.equal((await s.api(s.certs.scheduler, 'POST', '/api/v1/namespaces/kube-system/endpoints', lock)).status, 201);
    assert.equal((await s.api(s.certs.scheduler, 'GET', '/api/v1/namespaces/kube-system/endpoints/kube-scheduler')).status, 200);
    assert.equal((await s.api(s.certs.scheduler, 'GET', '/api/v1/namespaces/kube-system/endpoints/kube-controller-manager')).status, 403);
    assert.equal((await s.api(s.certs.admin, 'POST', '/api/v1/namespaces/nope/endpoints', { metadata: { name: 'x' } })).status, 404);

    // The bootstrap service and the master-lease endpoints, as the real kubectl prints them.
    await waitFor('the kubernetes endpoints', async () => {
      const r = await s.kubectl(['get', 'endpoints', 'kubernetes', '--no-headers']);
      return /^kubernetes\s+127\.0\.0\.1:6443\s/.test(r.stdout) ? true : undefined;
    }, 15_000, 500);
    const svc = await s.kubectl(['get', 'service', 'kubernetes']);
    assert.equal(svc.code, 0, svc.stderr);
    assert.match(svc.stdout, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\nkubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP\s+\S+$/);
  } finally {
    await apiserver.stop();
  }
});

test('/healthz fails while etcd is down and recovers when it is back', async () => {
  const apiserver = await s.startApiserver();
  try {
    assert.equal((await s.probe({ url: `${s.server}/healthz`, ca: s.certs.ca.cert })).body, 'ok');
    await etcd.stop();
    const down = await waitFor(
      'healthz to fail',
      async () => {
        const r = await s.probe({ url: `${s.server}/healthz`, ca: s.certs.ca.cert, timeoutMs: 8000 });
        return r.status === 500 ? r : undefined;
      },
      15_000,
    );
    assert.match(down.body!, /\[-\]etcd failed/);
    assert.match(down.body!, /healthz check failed/);
    assert.ok(apiserver.running, 'the apiserver keeps running while etcd is away');
    etcd = await s.startEtcd();
    await waitFor('healthz to recover', async () => ((await s.probe({ url: `${s.server}/healthz`, ca: s.certs.ca.cert })).status === 200 ? true : undefined), 15_000);
  } finally {
    await apiserver.stop();
  }
});

test('the insecure port serves health on 127.0.0.1:8080 unless set to 0, and anonymous-auth=false means 401', async () => {
  const args = s.apiserverArgs(['--anonymous-auth=false']).filter((a) => a !== '--insecure-port=0');
  const apiserver = s.start('kube-apiserver', args, 'apiserver-insecure');
  try {
    await waitFor('insecure healthz', async () => {
      if (!apiserver.running) throw new Error(apiserver.output());
      const r = await s.probe({ url: 'http://127.0.0.1:8080/healthz' });
      return r.status === 200 ? r : undefined;
    }, 15_000);
    const anonymous = await s.api(undefined, 'GET', '/api/v1/nodes');
    assert.equal(anonymous.status, 401);
  } finally {
    await apiserver.stop();
  }
});
