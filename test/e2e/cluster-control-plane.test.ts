/**
 * etcd and the control plane as systemd units on three lab hosts (each control plane + etcd),
 * through the real CLI: the cluster comes up healthy (real etcdctl, the stand-in apiservers, the
 * real kubectl), a re-apply changes and restarts nothing, a changed kube_log_level restarts only
 * the control-plane units one host at a time, a broken template fails before any host changes,
 * and a member without data joins the running etcd cluster as `existing`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import type { CliIO } from '../../src/cli/io.js';
import { registerKubeconfig } from '../../src/cli/kubeconfig.js';
import { packageRoot } from '../../src/paths.js';
import { pinVariables, RELEASE_DIR, startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import { labSkipReason } from '../support/lab.js';
import { copyPackage } from '../support/package-copy.js';
import { ETCD_TLS, HOST_KUBECTL as KUBECTL } from '../support/converged.js';

const PLAYBOOK = path.join(packageRoot, 'test', 'fixtures', 'playbooks', 'control-plane.yml');
const HOSTS = ['node1', 'node2', 'node3'];
const UNITS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

interface Event {
  type: string;
  host?: string;
  task?: string;
  handler?: string;
  status?: string;
  time: string;
  changes?: { kind: string; summary: string; path?: string }[];
  recap?: { host: string; changed: number; failed: number }[];
}

async function apply(lab: ClusterLab, extra: string[] = []): Promise<{ code: number; events: Event[]; output: string }> {
  const r = await lab.kprov(['apply', PLAYBOOK, '-i', lab.inventoryDir, '--json', ...extra], { timeoutMs: 240_000 });
  const events = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Event);
  return { code: r.code, events, output: `${r.stdout}\n${r.stderr}` };
}

async function sh(lab: ClusterLab, host: string, argv: string[]): Promise<string> {
  const r = await lab.exec(host, argv, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${host}: ${argv.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Every unit's InvocationID on every host: a restart gives a new one. */
async function invocations(lab: ClusterLab): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const host of HOSTS) {
    // One block per unit, blank-line separated: Id=… and InvocationID=….
    const text = await sh(lab, host, ['systemctl', 'show', '--property=Id,InvocationID', ...UNITS.map((u) => `${u}.service`)]);
    for (const block of text.trim().split(/\n\s*\n/)) {
      const id = /^Id=(.+)$/m.exec(block)?.[1]?.replace(/\.service$/, '');
      if (id) out[`${host}/${id}`] = /^InvocationID=(.*)$/m.exec(block)?.[1]?.trim() ?? '';
    }
    for (const u of UNITS) assert.match(out[`${host}/${u}`]!, /^[0-9a-f]{32}$/, `${host}/${u} is running`);
  }
  return out;
}

async function unitFiles(lab: ClusterLab): Promise<string> {
  const files = ['/etc/etcd.env', ...UNITS.map((u) => `/etc/systemd/system/${u}.service`)];
  return (await Promise.all(HOSTS.map((h) => sh(lab, h, ['sha256sum', ...files])))).join('');
}

/** `kprov kubeconfig -i DIR` in process (the command module, whether or not main registers it yet). */
async function kubeconfigCommand(inventoryDir: string): Promise<string> {
  let out = '';
  const io: CliIO = { out: (t) => (out += t.endsWith('\n') ? t : `${t}\n`), err: () => undefined, env: {}, cwd: process.cwd(), isTTY: false };
  const program = new Command().exitOverride();
  registerKubeconfig(program, io);
  await program.parseAsync(['kubeconfig', '-i', inventoryDir], { from: 'user' });
  return out;
}

/** The real etcdctl on a host, with the health-check client; `endpoint health` reports on stderr. */
async function etcdctl(lab: ClusterLab, host: string, args: string[]): Promise<string> {
  const r = await lab.exec(host, ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, ...args], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${host}: etcdctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

const changedTasks = (events: Event[]) => events.filter((e) => e.type === 'task:finish' && e.status === 'changed');

test('etcd and the control plane: healthy, idempotent, rolling restarts, checked templates, joining members', { skip: labSkipReason(), timeout: 600_000 }, async () => {
  const lab = await startClusterLab({ name: 'e2e-cp', hosts: 3 });
  const scratch = await mkdtemp(path.join(tmpdir(), 'kprov-e2e-cp-'));
  try {
    // A fresh apply brings up etcd, then the control plane.
    const first = await apply(lab);
    assert.equal(first.code, 0, first.output.slice(-4000));

    // The real etcdctl, with the health-check client certificate: three healthy members.
    const endpoints = `--endpoints=${lab.addresses.map((a) => `https://${a}:2379`).join(',')}`;
    const health = await etcdctl(lab, 'node1', [endpoints, 'endpoint', 'health']);
    assert.equal(health.match(/is healthy/g)?.length, 3, health);
    const members = await etcdctl(lab, 'node2', [endpoints, 'member', 'list']);
    assert.equal(members.match(/, started, node[123], /g)?.length, 3, members);
    // Without a client certificate etcd refuses the client.
    const anonymous = await lab.exec('node1', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', endpoints, '--cacert=/etc/ssl/etcd/ssl/ca.crt', '--command-timeout=3s', 'endpoint', 'health']);
    assert.notEqual(anonymous.code, 0);

    // Every API server answers /healthz (CA-verified), and the real kubectl sees healthy components.
    for (const address of lab.addresses) {
      assert.equal((await sh(lab, 'node1', [...KUBECTL, `--server=https://${address}:6443`, 'get', '--raw=/healthz'])).trim(), 'ok');
    }
    const cs = await sh(lab, 'node3', [...KUBECTL, 'get', 'componentstatuses']);
    for (const name of ['scheduler', 'controller-manager', 'etcd-0', 'etcd-1', 'etcd-2']) {
      assert.match(cs, new RegExp(`^${name}\\s+Healthy`, 'm'), cs);
    }

    // admin.conf for the user: 0600 in a 0700 directory, printed by `kprov kubeconfig`, works from outside.
    const adminConf = path.join(lab.inventoryDir, 'artifacts', 'admin.conf');
    assert.equal((await stat(adminConf)).mode & 0o777, 0o600);
    assert.equal((await stat(path.dirname(adminConf))).mode & 0o777, 0o700);
    assert.equal(await kubeconfigCommand(lab.inventoryDir), await readFile(adminConf, 'utf8'));
    const kubectl = path.join(RELEASE_DIR, 'dl.k8s.io', 'release', lab.release.artifacts.find((a) => a.name === 'kubectl')!.version, 'bin', 'linux', 'amd64', 'kubectl');
    const outside = await lab.inLab([kubectl, `--kubeconfig=${adminConf}`, 'get', '--raw=/healthz'], { env: { PATH: '/usr/bin:/bin', HOME: scratch } });
    assert.equal(outside.stdout.trim(), 'ok', outside.stderr);

    // A second apply changes nothing, restarts nothing and uploads nothing.
    const before = await invocations(lab);
    const again = await apply(lab);
    assert.equal(again.code, 0, again.output.slice(-4000));
    assert.deepEqual(changedTasks(again.events).map((e) => `${e.host}: ${e.task}`), []);
    assert.deepEqual(again.events.filter((e) => e.type.startsWith('handler')), []);
    const recap = again.events.find((e) => e.type === 'run:finish')!.recap!;
    assert.deepEqual(recap.map((r) => [r.host, r.changed, r.failed]), HOSTS.map((h) => [h, 0, 0]));
    assert.deepEqual(await invocations(lab), before);

    // kube_log_level feeds only the three control-plane units: they alone change and restart,
    // each handler one host at a time, every restart over before the next begins.
    await pinVariables(lab.inventoryDir, { kube_log_level: '4' });
    const relog = await apply(lab);
    assert.equal(relog.code, 0, relog.output.slice(-4000));
    const fileChanges = changedTasks(relog.events).flatMap((e) => (e.changes ?? []).filter((c) => c.kind === 'file').map((c) => `${e.host}:${c.path}`));
    assert.deepEqual(
      fileChanges.sort(),
      HOSTS.flatMap((h) => ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((u) => `${h}:/etc/systemd/system/${u}.service`)).sort(),
    );
    const after = await invocations(lab);
    for (const h of HOSTS) {
      assert.equal(after[`${h}/etcd`], before[`${h}/etcd`], `${h}: etcd was not restarted`);
      for (const u of UNITS.slice(1)) assert.notEqual(after[`${h}/${u}`], before[`${h}/${u}`], `${h}: ${u} restarted`);
    }
    const handlerEvents = relog.events.filter((e) => e.type === 'handler:start' || e.type === 'handler:finish');
    for (const unit of UNITS.slice(1)) {
      const mine = handlerEvents.filter((e) => e.handler === `restart ${unit}`);
      assert.deepEqual(mine.map((e) => `${e.type}:${e.host}`), HOSTS.flatMap((h) => [`handler:start:${h}`, `handler:finish:${h}`]), `${unit}: one host at a time`);
      assert.ok(mine.every((e) => e.type === 'handler:start' || e.status === 'changed'));
    }
    const unitText = await sh(lab, 'node2', ['cat', '/etc/systemd/system/kube-apiserver.service']);
    assert.match(unitText, /--v=4$/m);

    // A template with a flag v1.13 does not have: the run fails naming template and flag, and
    // no host is changed. The package is copied with the broken template (no test hook needed).
    const copy = await copyPackage(path.join(scratch, 'kprov'));
    const template = path.join(copy, 'templates', 'control-plane', 'kube-apiserver.service.j2');
    await writeFile(template, (await readFile(template, 'utf8')).replace('  --allow-privileged=true \\\n', '  --allow-privileged=true \\\n  --enable-magic=true \\\n'));
    const filesBefore = await unitFiles(lab);
    const broken = await lab.inLab([process.execPath, path.join(copy, 'bin', 'kprov.js'), 'apply', PLAYBOOK, '-i', lab.inventoryDir, '--json'], { timeoutMs: 120_000 });
    assert.notEqual(broken.code, 0);
    assert.match(broken.stdout, /templates\/control-plane\/kube-apiserver\.service\.j2: kube-apiserver does not accept --enable-magic \(v1\.13\)/);
    const brokenEvents = broken.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
    assert.deepEqual(changedTasks(brokenEvents), []);
    assert.equal(brokenEvents.filter((e) => e.type === 'task:start' && e.task !== 'authorize the cluster SSH key').length, 0, 'no etcd or control-plane task ran');
    assert.equal(await unitFiles(lab), filesBefore);
    assert.deepEqual(await invocations(lab), after);

    // node3 leaves the etcd cluster and loses its data; the next apply finds a running cluster
    // without it, adds it back (`etcdctl member add`) and starts it with state `existing`.
    const list = await etcdctl(lab, 'node1', [endpoints, 'member', 'list']);
    const node3Id = /^([0-9a-f]+), started, node3,/m.exec(list)![1]!;
    await sh(lab, 'node3', ['systemctl', 'stop', 'etcd.service']);
    await etcdctl(lab, 'node1', ['--endpoints=https://127.0.0.1:2379', 'member', 'remove', node3Id]);
    await sh(lab, 'node3', ['rm', '-rf', '/var/lib/etcd/member']);
    const join = await apply(lab, ['--tags', 'etcd']);
    assert.equal(join.code, 0, join.output.slice(-4000));
    const joinChanges = changedTasks(join.events).map((e) => `${e.host}: ${e.task}`);
    assert.deepEqual(joinChanges, ['node3: etcd membership of node3', 'node3: file /etc/etcd.env', 'node3: start etcd.service']);
    assert.match(await sh(lab, 'node3', ['cat', '/etc/etcd.env']), /^ETCD_INITIAL_CLUSTER_STATE=existing$/m);
    const rejoined = await etcdctl(lab, 'node1', [endpoints, 'member', 'list']);
    assert.equal(rejoined.match(/, started, node[123], /g)?.length, 3, rejoined);
    const healthAfter = await etcdctl(lab, 'node3', [endpoints, 'endpoint', 'health']);
    assert.equal(healthAfter.match(/is healthy/g)?.length, 3, healthAfter);
    // And it stays put: the next apply leaves the joined member alone.
    const settled = await apply(lab, ['--tags', 'etcd']);
    assert.deepEqual(changedTasks(settled.events).map((e) => `${e.host}: ${e.task}`), []);

    // Backup and restore: a key written before the backup is back after the restore, one
    // written after it is gone, every member is healthy and every API server answers.
    const kprovOk = async (args: string[]) => {
      const r = await lab.kprov(args, { timeoutMs: 300_000 });
      assert.equal(r.code, 0, `kprov ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    await kprovOk(['etcdctl', '-i', lab.inventoryDir, '--', 'put', '/kprov-test/first', 'before-backup']);
    const saved = /: (\S+\.db) \(/.exec(await kprovOk(['etcd', 'backup', '-i', lab.inventoryDir]))![1]!;
    await kprovOk(['etcdctl', '-i', lab.inventoryDir, '--', 'del', '/kprov-test/first']);
    await kprovOk(['etcdctl', '-i', lab.inventoryDir, '--', 'put', '/kprov-test/second', 'after-backup']);
    const refused = await lab.kprov(['etcd', 'restore', path.resolve(saved), '-i', lab.inventoryDir]);
    assert.equal(refused.code, 2, 'no terminal and no --yes: nothing restored');
    await kprovOk(['etcd', 'restore', path.resolve(saved), '-i', lab.inventoryDir, '--yes']);
    assert.match(await kprovOk(['etcdctl', '-i', lab.inventoryDir, '--', 'get', '/kprov-test/first', '--print-value-only']), /^before-backup$/m);
    assert.equal((await kprovOk(['etcdctl', '-i', lab.inventoryDir, '--', 'get', '/kprov-test/second'])).trim(), '');
    const restored = await etcdctl(lab, 'node1', [endpoints, 'endpoint', 'health']);
    assert.equal(restored.match(/is healthy/g)?.length, 3, restored);
    for (const host of HOSTS) assert.equal((await sh(lab, host, [...KUBECTL, 'get', '--raw=/healthz'])).trim(), 'ok');
  } finally {
    await lab.stop();
    await rm(scratch, { recursive: true, force: true });
  }
});
