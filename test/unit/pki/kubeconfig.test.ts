/**
 * Kubeconfigs: their shape, which host gets which, and the real kubectl using them over mutual
 * TLS against a loopback HTTPS server that serves the apiserver certificate and trusts the CA.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
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

function kubectl(args: string[], home: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    // No proxy variables: only loopback is reached.
    execFile('kubectl', args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ ok: err === null, out: `${stdout}${stderr}` }),
    );
  });
}

test('real kubectl authenticates with the kubeconfigs against a server using the apiserver certificate', { timeout: 120_000 }, async (t) => {
  const home = await tempDir(t, 'kprov-pki-kubectl-');
  const dir = path.join(home, 'pki');
  const input = smallCluster();
  await ensurePki(dir, input);
  const read = (f: string) => readFile(path.join(dir, f));
  // Like kube-apiserver: serve apiserver.crt, require a client certificate from ca.crt; CN → user.
  const server: Server = createServer(
    { cert: await read('apiserver.crt'), key: await read('apiserver.key'), ca: await read('ca.crt'), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ user: peer.subject.CN, groups: peer.subject.O ?? null }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;

  const set = await kubeconfigSet(dir, input);
  for (const k of set) await writeFile(path.join(home, k.file), k.content, { mode: 0o600 });

  const view = await kubectl(['config', 'view', '--kubeconfig', path.join(home, 'admin.conf'), '-o', 'jsonpath={.users[0].name}'], home);
  assert.equal(view.out, 'kubernetes-admin');

  for (const [file, user, host] of [
    ['admin.conf', '"user":"kubernetes-admin","groups":"system:masters"', '127.0.0.1'],
    ['kubelet-w1.conf', '"user":"system:node:w1","groups":"system:nodes"', 'localhost'],
    ['controller-manager.conf', '"user":"system:kube-controller-manager","groups":null', '127.0.0.1'],
  ] as const) {
    const r = await kubectl(['--kubeconfig', path.join(home, file), '--server', `https://${host}:${port}`, 'get', '--raw', '/whoami'], home);
    assert.ok(r.ok, `${file}: ${r.out}`);
    assert.equal(r.out.trim(), `{${user}}`);
  }

  // A certificate from another CA is refused during the handshake.
  const foreign = renderKubeconfig({
    clusterName: 'x', server: `https://127.0.0.1:${port}`, caPem: (await read('ca.crt')).toString(), user: 'front-proxy-client',
    certPem: (await read('front-proxy-client.crt')).toString(), keyPem: (await read('front-proxy-client.key')).toString(),
  });
  await writeFile(path.join(home, 'foreign.conf'), foreign, { mode: 0o600 });
  const refused = await kubectl(['--kubeconfig', path.join(home, 'foreign.conf'), '--request-timeout=5s', 'get', '--raw', '/whoami'], home);
  assert.equal(refused.ok, false, refused.out);

  // The apiserver certificate does not cover a name outside its SANs.
  const wrongName = await kubectl(
    ['--kubeconfig', path.join(home, 'admin.conf'), '--server', `https://127.0.0.2:${port}`, '--request-timeout=5s', 'get', '--raw', '/whoami'],
    home,
  );
  assert.equal(wrongName.ok, false);
});
