/**
 * The real kubectl using kprov's kubeconfigs over mutual TLS against a loopback HTTPS server that
 * serves the apiserver certificate and trusts the CA.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import { ensurePki, kubeconfigSet, renderKubeconfig } from '../../../src/pki/index.js';
import { needsCommands } from '../../support/needs-commands.js';
import { smallCluster } from '../../support/pki-small-cluster.js';
import { tempDir } from '../../support/temp-dir.js';

function kubectl(args: string[], home: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    // No proxy variables: only loopback is reached.
    execFile('kubectl', args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ ok: err === null, out: `${stdout}${stderr}` }),
    );
  });
}

test('real kubectl authenticates with the kubeconfigs against a server using the apiserver certificate', { timeout: 120_000, ...needsCommands('kubectl') }, async (t) => {
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
