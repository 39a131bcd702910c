/**
 * The etcd certificates against the real etcd 3.4 (Go crypto/tls): a two-member cluster on
 * 127.0.0.1 with client-cert auth and peer TLS, each member with its own server and peer
 * certificate. Two members need their peer links for quorum, so a healthy cluster proves the peer
 * certificates work. etcdctl with the etcd client certificates succeeds; with a certificate from
 * the Kubernetes CA, or none, it is refused. Everything listens on loopback; etcd is stopped by PID.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensurePki } from '../../../src/pki/index.js';
import { needsCommands } from '../../support/needs-commands.js';
import { smallCluster } from '../../support/pki-small-cluster.js';
import { tempDir } from '../../support/temp-dir.js';

/** No proxy variables: gRPC would honour them and leave loopback. */
const cleanEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', ETCDCTL_API: '3' };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

interface CtlResult {
  ok: boolean;
  out: string;
}

function etcdctl(args: string[]): Promise<CtlResult> {
  return new Promise((resolve) => {
    execFile(
      'etcdctl',
      ['--dial-timeout=2s', '--command-timeout=4s', ...args],
      { env: cleanEnv, timeout: 15_000 },
      (err, stdout, stderr) => resolve({ ok: err === null, out: `${stdout}${stderr}` }),
    );
  });
}

/** SIGTERM, then SIGKILL after 2 s (a member of a two-member cluster may wait for its peer). */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timedOut = await Promise.race([exited.then(() => false), sleep(2000).then(() => true)]);
  if (timedOut && child.exitCode === null) {
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
}

async function runEtcdCluster(t: TestContext, keyAlgorithm: 'rsa-2048' | 'ecdsa-p256'): Promise<void> {
  const dir = await tempDir(t, 'kprov-pki-etcd-');
  const pki = path.join(dir, 'pki');
  await ensurePki(pki, smallCluster({ keyAlgorithm }));
  const members = [
    { host: 'cp1', name: 'etcd1', client: await freePort(), peer: await freePort() },
    { host: 'cp2', name: 'etcd2', client: await freePort(), peer: await freePort() },
  ];
  const initialCluster = members.map((m) => `${m.name}=https://127.0.0.1:${m.peer}`).join(',');
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  t.after(async () => {
    await Promise.all(children.map(stop));
  });
  for (const m of members) {
    const data = path.join(dir, `data-${m.name}`);
    await mkdir(data, { mode: 0o700 });
    const f = (rel: string) => path.join(pki, rel);
    const child = spawn(
      'etcd',
      [
        `--name=${m.name}`,
        `--data-dir=${data}`,
        `--listen-client-urls=https://127.0.0.1:${m.client}`,
        `--advertise-client-urls=https://127.0.0.1:${m.client}`,
        `--listen-peer-urls=https://127.0.0.1:${m.peer}`,
        `--initial-advertise-peer-urls=https://127.0.0.1:${m.peer}`,
        `--initial-cluster=${initialCluster}`,
        '--initial-cluster-state=new',
        `--initial-cluster-token=kprov-pki-test-${process.pid}`,
        `--cert-file=${f(`etcd/server-${m.host}.crt`)}`,
        `--key-file=${f(`etcd/server-${m.host}.key`)}`,
        '--client-cert-auth=true',
        `--trusted-ca-file=${f('etcd/ca.crt')}`,
        `--peer-cert-file=${f(`etcd/peer-${m.host}.crt`)}`,
        `--peer-key-file=${f(`etcd/peer-${m.host}.key`)}`,
        '--peer-client-cert-auth=true',
        `--peer-trusted-ca-file=${f('etcd/ca.crt')}`,
        '--logger=zap',
        '--log-level=warn',
      ],
      { env: cleanEnv, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (d: Buffer) => logs.push(`[${m.name}] ${d.toString()}`));
    children.push(child);
  }

  const endpoints = members.map((m) => `https://127.0.0.1:${m.client}`).join(',');
  const withCert = (name: string | undefined, args: string[]) => [
    `--endpoints=${endpoints}`,
    `--cacert=${path.join(pki, 'etcd/ca.crt')}`,
    ...(name === undefined ? [] : [`--cert=${path.join(pki, `${name}.crt`)}`, `--key=${path.join(pki, `${name}.key`)}`]),
    ...args,
  ];

  // Bounded wait for both members to form the cluster over their peer links.
  let health: CtlResult = { ok: false, out: '' };
  for (let i = 0; i < 40 && !health.ok; i++) {
    for (const c of children) assert.equal(c.exitCode, null, `etcd exited early:\n${logs.join('')}`);
    health = await etcdctl(withCert('apiserver-etcd-client', ['endpoint', 'health']));
    if (!health.ok) await sleep(500);
  }
  assert.ok(health.ok, `cluster did not become healthy:\n${health.out}\n${logs.join('')}`);
  assert.equal(health.out.match(/is healthy/g)?.length, 2, health.out);

  const list = await etcdctl(withCert('apiserver-etcd-client', ['member', 'list']));
  assert.ok(list.ok, list.out);
  assert.match(list.out, /started, etcd1, https:\/\/127\.0\.0\.1:\d+/);
  assert.match(list.out, /started, etcd2, https:\/\/127\.0\.0\.1:\d+/);

  const put = await etcdctl(withCert('apiserver-etcd-client', ['put', '/registry/kprov-test', 'hello']));
  assert.ok(put.ok, put.out);
  const get = await etcdctl(withCert('apiserver-etcd-client', ['get', '/registry/kprov-test', '--print-value-only']));
  assert.equal(get.out.trim(), 'hello');

  // kubeadm's liveness probe: the health-check client reads a key.
  const hc = await etcdctl(withCert('etcd/healthcheck-client', ['endpoint', 'health']));
  assert.ok(hc.ok, hc.out);
  const hcGet = await etcdctl(withCert('etcd/healthcheck-client', ['get', '/registry/kprov-test', '--print-value-only']));
  assert.equal(hcGet.out.trim(), 'hello');

  // A certificate from the Kubernetes CA is not an etcd client; neither is no certificate. A
  // refused handshake only ends at the timeouts, so these use one endpoint, short limits, in parallel.
  const refused = (who: string | undefined, args: string[]) =>
    etcdctl([
      '--dial-timeout=1s',
      '--command-timeout=2s',
      ...withCert(who, args).map((a) => (a.startsWith('--endpoints=') ? `--endpoints=https://127.0.0.1:${members[0]!.client}` : a)),
    ]);
  const results = await Promise.all([
    ...['admin', 'apiserver-kubelet-client', undefined].map(async (who) => ({ who, r: await refused(who, ['get', '/registry/kprov-test']) })),
    refused('admin', ['endpoint', 'health']).then((r) => ({ who: 'admin (endpoint health)', r })),
  ]);
  for (const { who, r } of results) {
    assert.equal(r.ok, false, `${who ?? 'no certificate'} must be refused:\n${r.out}`);
    assert.doesNotMatch(r.out, /hello|is healthy/);
    assert.match(r.out, /deadline exceeded|bad certificate|certificate required|unhealthy/i, r.out);
  }
}

test('real etcd: client-cert auth and peer TLS with the PKI (RSA 2048)', { timeout: 120_000, ...needsCommands('etcd', 'etcdctl') }, async (t) => {
  await runEtcdCluster(t, 'rsa-2048');
});

test('real etcd: client-cert auth and peer TLS with the PKI (ECDSA P-256)', { timeout: 120_000, ...needsCommands('etcd', 'etcdctl') }, async (t) => {
  await runEtcdCluster(t, 'ecdsa-p256');
});
