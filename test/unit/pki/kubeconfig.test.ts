/**
 * Kubeconfigs: their shape and which host gets which. The real kubectl using them is
 * test/integration/pki/kubeconfig-kubectl.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { ensurePki, kubeconfigSet, kubeconfigsForHost, renderKubeconfig } from '../../../src/pki/index.js';
import { smallCluster } from '../../support/pki-small-cluster.js';
import { tempDir } from '../../support/temp-dir.js';

interface Kubeconfig {
  apiVersion: string;
  kind: string;
  clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  'current-context': string;
  users: { name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }[];
}

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

test('renderKubeconfig writes a v1 Config with embedded base64 credentials', () => {
  const text = renderKubeconfig({
    clusterName: 'c1', server: 'https://10.0.0.1:6443', caPem: 'CA\n', user: 'system:node:w1', certPem: 'CERT\n', keyPem: 'KEY\n',
  });
  const doc = parse(text) as Kubeconfig;
  assert.equal(doc.apiVersion, 'v1');
  assert.equal(doc.kind, 'Config');
  assert.deepEqual(doc.clusters, [{ name: 'c1', cluster: { 'certificate-authority-data': Buffer.from('CA\n').toString('base64'), server: 'https://10.0.0.1:6443' } }]);
  assert.deepEqual(doc.contexts, [{ name: 'system:node:w1@c1', context: { cluster: 'c1', user: 'system:node:w1' } }]);
  assert.equal(doc['current-context'], 'system:node:w1@c1');
  assert.equal(decode(doc.users[0]!.user['client-certificate-data']), 'CERT\n');
  assert.equal(decode(doc.users[0]!.user['client-key-data']), 'KEY\n');
});

test('the set and the per-host kubeconfigs carry the right identity and server', async (t) => {
  const dir = path.join(await tempDir(t), 'pki');
  const input = smallCluster({ keyAlgorithm: 'ecdsa-p256' });
  await ensurePki(dir, input);
  const set = await kubeconfigSet(dir, input);
  assert.deepEqual(set.map((k) => k.file), [
    'admin.conf', 'controller-manager.conf', 'scheduler.conf', 'kube-proxy.conf', 'kubelet-cp1.conf', 'kubelet-cp2.conf', 'kubelet-w1.conf',
  ]);
  const server = (content: string) => (parse(content) as Kubeconfig).clusters[0]!.cluster.server;
  const user = (content: string) => (parse(content) as Kubeconfig).users[0]!.name;
  const get = (f: string) => set.find((k) => k.file === f)!.content;
  assert.equal(server(get('admin.conf')), 'https://10.0.0.100:8443');
  assert.equal(server(get('controller-manager.conf')), 'https://127.0.0.1:6443');
  assert.equal(server(get('kubelet-w1.conf')), 'https://10.0.0.100:8443');
  assert.equal(user(get('kubelet-w1.conf')), 'system:node:w1');
  assert.equal(user(get('scheduler.conf')), 'system:kube-scheduler');
  const doc = parse(get('kube-proxy.conf')) as Kubeconfig;
  assert.equal(decode(doc.clusters[0]!.cluster['certificate-authority-data']), await readFile(path.join(dir, 'ca.crt'), 'utf8'));
  assert.equal(decode(doc.users[0]!.user['client-key-data']), await readFile(path.join(dir, 'kube-proxy.key'), 'utf8'));

  const worker = await kubeconfigsForHost(dir, input, 'w1', ['node']);
  assert.deepEqual(worker.map((k) => [k.path, k.spec, k.mode.toString(8)]), [
    ['/etc/kubernetes/kube-proxy.conf', 'kube-proxy', '600'],
    ['/etc/kubernetes/kubelet.conf', 'kubelet/w1-client', '600'],
  ]);
  const cp = await kubeconfigsForHost(dir, input, 'cp1', ['control-plane', 'node'], { controlPlaneServer: 'host-address' });
  assert.deepEqual(cp.map((k) => k.path), [
    '/etc/kubernetes/admin.conf', '/etc/kubernetes/controller-manager.conf', '/etc/kubernetes/kube-proxy.conf',
    '/etc/kubernetes/kubelet.conf', '/etc/kubernetes/scheduler.conf',
  ]);
  assert.equal(server(cp.find((k) => k.spec === 'controller-manager')!.content), 'https://192.0.2.1:6443');
  assert.equal(user(cp.find((k) => k.spec === 'kubelet/cp1-client')!.content), 'system:node:cp1');
});

test('with a node-local API proxy: workers point at it, control-plane hosts at their own API server, admin.conf at the endpoint', async (t) => {
  const dir = path.join(await tempDir(t), 'pki');
  const input = { ...smallCluster({ keyAlgorithm: 'ecdsa-p256' }), nodeLocalApiPort: 7443 };
  await ensurePki(dir, input);
  const server = (content: string) => (parse(content) as Kubeconfig).clusters[0]!.cluster.server;
  const serversOf = async (host: string, roles: ('node' | 'control-plane')[]) =>
    Object.fromEntries((await kubeconfigsForHost(dir, input, host, roles)).map((k) => [k.file, server(k.content)]));
  assert.deepEqual(await serversOf('w1', ['node']), { 'kube-proxy.conf': 'https://127.0.0.1:7443', 'kubelet-w1.conf': 'https://127.0.0.1:7443' });
  const cp1 = await serversOf('cp1', ['control-plane', 'node']);
  assert.equal(cp1['kubelet-cp1.conf'], `https://127.0.0.1:${input.apiserverPort}`);
  assert.equal(cp1['kube-proxy.conf'], `https://127.0.0.1:${input.apiserverPort}`);
  assert.equal(cp1['admin.conf'], `https://127.0.0.1:${input.apiserverPort}`);
  const set = await kubeconfigSet(dir, input);
  assert.equal(server(set.find((k) => k.file === 'admin.conf')!.content), input.apiserverEndpoint);
});
