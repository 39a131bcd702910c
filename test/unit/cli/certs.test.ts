/**
 * `kprov certs check|renew` and `kprov kubeconfig` on an inventory whose PKI exists on disk
 * (issued by the same code `kprov apply cluster` runs), in process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { parse } from 'yaml';
import { loadClusterPki } from '../../../src/cluster/pki.js';
import type { CliIO } from '../../../src/cli/io.js';
import { registerKubeconfig } from '../../../src/cli/kubeconfig.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { runCli } from '../../support/run-cli.js';
import { writeInventory } from '../cluster/test-cluster.js';

const DAY = 24 * 60 * 60 * 1000;

async function issued(t: Parameters<typeof writeInventory>[0], daysAgo = 0): Promise<string> {
  const dir = await writeInventory(t);
  await loadClusterPki(await loadInventory(dir), { dryRun: false, now: new Date(Date.now() - daysAgo * DAY) });
  return dir;
}

test('certs check: a table of every certificate, then --json', async (t) => {
  const dir = await issued(t);
  const r = await runCli(['certs', 'check', '-i', dir]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^NAME\s+SUBJECT\s+SANS\s+ISSUER\s+EXPIRES\s+DAYS LEFT\s+WARNING$/);
  const apiserver = lines.find((l) => l.startsWith('apiserver '))!;
  assert.match(apiserver, /CN=kube-apiserver/);
  assert.match(apiserver, /kubernetes\.default\.svc\.cluster\.local,.*10\.233\.0\.1,127\.0\.0\.1,10\.10\.0\.1/);
  assert.match(apiserver, /CN=kubernetes\s+\d{4}-\d\d-\d\d\s+36[45]\s*$/);
  assert.ok(lines.some((l) => /^etcd\/server-node2\s+CN=node2\s/.test(l)));
  assert.match(lines.at(-1)!, /^\d+ certificate\(s\) in .*pki; 0 with warnings/);
  assert.equal(r.stderr, '');

  const json = await runCli(['certs', 'check', '-i', dir, '--json']);
  const certs = JSON.parse(json.stdout) as { name: string; daysLeft: number; issuerVerified: boolean; sans: { dns: string[] } }[];
  assert.ok(certs.every((c) => c.issuerVerified));
  assert.deepEqual(certs.find((c) => c.name === 'admin')!.sans.dns, []);
  assert.ok(certs.find((c) => c.name === 'ca')!.daysLeft > 3000);
});

test('certs check warns about certificates that expire within 30 days', async (t) => {
  const dir = await issued(t, 350);
  const r = await runCli(['certs', 'check', '-i', dir]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^apiserver\s.*\s1[45]\s+expires in 1[45] days$/m);
  assert.match(r.stderr, /^warning: kubelet\/node1-client: expires in 1[45] days$/m);
  assert.doesNotMatch(r.stderr, /warning: ca:/);
});

test('certs renew: chosen leaves from the same CA and keys, and what to run next', async (t) => {
  const dir = await issued(t, 350);
  const pki = path.join(dir, 'pki');
  const [oldCert, oldKey, oldCa] = await Promise.all(['apiserver.crt', 'apiserver.key', 'ca.crt'].map((f) => readFile(path.join(pki, f), 'utf8')));
  const r = await runCli(['certs', 'renew', 'apiserver', 'etcd/server-node1', '-i', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^RENEWED\s+EXPIRES\s+DAYS LEFT$/m);
  assert.match(r.stdout, /^apiserver\s+\d{4}-\d\d-\d\d\s+36[45]$/m);
  assert.match(r.stdout, /^etcd\/server-node1\s/m);
  assert.match(r.stdout, /2 certificate\(s\) renewed from the same CA and keys .* Run `kprov apply cluster -i .*` to distribute them: it restarts only the services that read them\./);
  assert.notEqual(await readFile(path.join(pki, 'apiserver.crt'), 'utf8'), oldCert);
  assert.equal(await readFile(path.join(pki, 'apiserver.key'), 'utf8'), oldKey);
  assert.equal(await readFile(path.join(pki, 'ca.crt'), 'utf8'), oldCa);
  const check = await runCli(['certs', 'check', '-i', dir]);
  assert.doesNotMatch(check.stderr, /warning: apiserver:/);
  assert.match(check.stderr, /warning: apiserver-etcd-client:/, 'the others still expire soon');

  const all = await runCli(['certs', 'renew', '--all', '-i', dir]);
  assert.equal(all.code, 0, all.stderr);
  const after = await runCli(['certs', 'check', '-i', dir]);
  assert.equal(after.stderr, '');
});

test('certs renew: bad names and bad usage are errors that say what to do', async (t) => {
  const dir = await issued(t);
  const unknown = await runCli(['certs', 'renew', 'apiservr', '-i', dir]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no certificate named "apiservr"/);
  const ca = await runCli(['certs', 'renew', 'ca', '-i', dir]);
  assert.equal(ca.code, 2);
  assert.match(ca.stderr, /"ca" is a CA; only leaf certificates are renewed/);
  const both = await runCli(['certs', 'renew', 'apiserver', '--all', '-i', dir]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /give certificate names or --all, not both/);
  const none = await runCli(['certs', 'renew', '-i', dir]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /name the certificates to renew, or --all/);
});

test('certs check and kubeconfig before the cluster was ever applied: a clear error', async (t) => {
  const dir = await writeInventory(t);
  const r = await runCli(['certs', 'check', '-i', dir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /has no cluster PKI yet/);
  assert.match(r.stderr, /kprov apply cluster -i /);
  const k = await kubeconfig(['kubeconfig', '-i', dir]);
  assert.match(String(k.error), /was never applied: there is no admin certificate/);
});

async function kubeconfig(argv: string[]): Promise<{ out: string; error?: unknown }> {
  let out = '';
  const io: CliIO = { out: (s) => (out += s.endsWith('\n') ? s : `${s}\n`), err: () => undefined, env: {}, cwd: process.cwd(), isTTY: false };
  const program = new Command().exitOverride();
  registerKubeconfig(program, io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return { out };
  } catch (error) {
    return { out, error };
  }
}

test('kubeconfig prints admin.conf for the cluster endpoint, with the admin identity', async (t) => {
  const dir = await issued(t);
  const { out, error } = await kubeconfig(['kubeconfig', '-i', dir]);
  assert.equal(error, undefined);
  const doc = parse(out) as { clusters: { cluster: { server: string } }[]; users: { name: string; user: Record<string, string> }[] };
  assert.equal(doc.clusters[0]!.cluster.server, 'https://10.10.0.1:6443');
  assert.equal(doc.users[0]!.name, 'kubernetes-admin');
  const cert = Buffer.from(doc.users[0]!.user['client-certificate-data']!, 'base64').toString();
  assert.equal(cert, await readFile(path.join(dir, 'pki', 'admin.crt'), 'utf8'));
});
