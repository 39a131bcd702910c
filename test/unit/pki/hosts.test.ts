/**
 * Per-host file selection: each host gets only what its roles need, and no CA key reaches a
 * worker or an etcd host (the rule lives in src/pki/hosts.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KprovError } from '../../../src/errors.js';
import { filesForHost, parsePkiInput, planCertificates, type CertSpec } from '../../../src/pki/index.js';
import { smallCluster } from '../../support/pki-small-cluster.js';

const caKeys = (plan: CertSpec[]) => new Set(plan.filter((s) => s.kind === 'ca').map((s) => s.files.key));

test('a worker gets the cluster CA certificate, its own kubelet files and kube-proxy; no CA key', () => {
  const plan = planCertificates(smallCluster());
  const files = filesForHost(plan, 'w1', ['node']);
  assert.deepEqual(
    files.map((f) => [f.path, f.sourceFile, f.mode.toString(8)]),
    [
      ['/etc/kubernetes/ssl/ca.crt', 'ca.crt', '644'],
      ['/etc/kubernetes/ssl/kube-proxy.crt', 'kube-proxy.crt', '644'],
      ['/etc/kubernetes/ssl/kube-proxy.key', 'kube-proxy.key', '600'],
      ['/var/lib/kubelet/pki/kubelet-client.crt', 'kubelet/w1-client.crt', '644'],
      ['/var/lib/kubelet/pki/kubelet-client.key', 'kubelet/w1-client.key', '600'],
      ['/var/lib/kubelet/pki/kubelet.crt', 'kubelet/w1-server.crt', '644'],
      ['/var/lib/kubelet/pki/kubelet.key', 'kubelet/w1-server.key', '600'],
    ],
  );
});

test('a control-plane + etcd + node host gets the cluster CA key but not the etcd or front-proxy CA keys', () => {
  const plan = planCertificates(smallCluster());
  const files = filesForHost(plan, 'cp1', ['control-plane', 'etcd', 'node']);
  const sources = files.map((f) => f.sourceFile);
  for (const want of [
    'ca.crt', 'ca.key', 'apiserver.crt', 'apiserver.key', 'apiserver-kubelet-client.key', 'apiserver-etcd-client.key',
    'front-proxy-ca.crt', 'front-proxy-client.key', 'sa.key', 'sa.pub', 'etcd/ca.crt',
    'etcd/server-cp1.key', 'etcd/peer-cp1.key', 'etcd/healthcheck-client.key', 'kubelet/cp1-client.key', 'kubelet/cp1-server.key',
  ]) {
    assert.ok(sources.includes(want), want);
  }
  for (const never of ['etcd/ca.key', 'front-proxy-ca.key', 'etcd/server-cp2.key', 'kubelet/w1-client.key', 'admin.key']) {
    assert.ok(!sources.includes(never), never);
  }
  assert.equal(files.find((f) => f.sourceFile === 'etcd/server-cp1.crt')!.path, '/etc/ssl/etcd/ssl/server.crt');
  assert.equal(files.find((f) => f.sourceFile === 'sa.key')!.mode, 0o600);
  assert.equal(new Set(files.map((f) => f.path)).size, files.length, 'each remote path once');
});

test('an etcd-only host gets its own member certificates and the etcd CA certificate, no CA key', () => {
  const input = smallCluster({
    etcd: [{ name: 'e3', ip: '10.0.0.31', address: '10.0.0.31', memberName: 'etcd3' }],
  });
  const files = filesForHost(planCertificates(input), 'e3', ['etcd']);
  assert.deepEqual(files.map((f) => f.sourceFile), [
    'etcd/ca.crt', 'etcd/healthcheck-client.crt', 'etcd/healthcheck-client.key',
    'etcd/peer-e3.crt', 'etcd/peer-e3.key', 'etcd/server-e3.crt', 'etcd/server-e3.key',
  ]);
});

test('in a 3 + 100 node cluster no worker or etcd host receives any CA key or another host\'s key', () => {
  const cp = [1, 2, 3].map((i) => ({ name: `cp${i}`, ip: `10.1.0.${i}`, address: `10.1.0.${i}` }));
  const workers = Array.from({ length: 100 }, (_, i) => ({ name: `n${i}`, ip: `10.2.0.${i + 1}`, address: `10.2.0.${i + 1}` }));
  const input = parsePkiInput({
    clusterName: 'big', dnsDomain: 'cluster.local', serviceCidr: '10.233.0.0/18', apiserverEndpoint: 'https://10.1.0.1:6443',
    controlPlane: cp, etcd: cp.map((h, i) => ({ ...h, memberName: `etcd${i}` })), nodes: [...cp, ...workers],
  });
  const plan = planCertificates(input);
  const forbidden = caKeys(plan);
  for (const w of workers) {
    const files = filesForHost(plan, w.name, ['node']);
    assert.equal(files.length, 7);
    for (const f of files) {
      assert.ok(!forbidden.has(f.sourceFile), `${w.name} gets ${f.sourceFile}`);
      if (f.sourceFile.startsWith('kubelet/')) assert.ok(f.sourceFile.startsWith(`kubelet/${w.name}-`), f.sourceFile);
    }
  }
  for (const h of cp) {
    const etcdOnly = filesForHost(plan, h.name, ['etcd']);
    assert.ok(etcdOnly.every((f) => !forbidden.has(f.sourceFile)));
    const cpFiles = filesForHost(plan, h.name, ['control-plane']);
    assert.deepEqual(cpFiles.filter((f) => forbidden.has(f.sourceFile)).map((f) => f.sourceFile), ['ca.key']);
  }
});

test('the rule holds even against a plan that asks for more', () => {
  const plan = planCertificates(smallCluster());
  const tampered = plan.map((s) =>
    s.name === 'etcd/ca'
      ? { ...s, recipients: [...s.recipients, { role: 'control-plane' as const, deliveries: [{ part: 'key' as const, remotePath: '/etc/ssl/etcd/ssl/ca.key', mode: 0o600, readers: [] }] }] }
      : s.name === 'ca'
        ? { ...s, recipients: [...s.recipients, { role: 'node' as const, deliveries: [{ part: 'key' as const, remotePath: '/etc/kubernetes/ssl/ca.key', mode: 0o600, readers: [] }] }] }
        : s,
  );
  const refuses = (host: string, roles: Parameters<typeof filesForHost>[2], what: RegExp) =>
    assert.throws(() => filesForHost(tampered, host, roles), (e: unknown) => e instanceof KprovError && e.code === 'internal' && what.test(e.message));
  refuses('w1', ['node'], /refusing to copy the Kubernetes CA private key to w1 \(node\)/);
  refuses('cp1', ['control-plane'], /refusing to copy the etcd CA private key to cp1/);
});

test('a host whose role has no certificates in the plan is an error', () => {
  const plan = planCertificates(smallCluster());
  assert.throws(() => filesForHost(plan, 'w9', ['node']), (e: unknown) => e instanceof KprovError && e.code === 'pki' && /w9 has the node role/.test(e.message));
  assert.throws(() => filesForHost(plan, 'w1', ['etcd']), (e: unknown) => e instanceof KprovError && /w1 has the etcd role/.test(e.message));
});
