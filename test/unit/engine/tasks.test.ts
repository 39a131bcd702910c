import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatFailure } from '../../../src/engine/errors.js';
import { HostState } from '../../../src/engine/host-state.js';
import { binary, command, directory, file, kernelModule, restartHandler, service, sysctl } from '../../../src/engine/tasks/index.js';
import type { Role, Task, TaskContext } from '../../../src/engine/contract.js';
import { FakeFleet, FakeHost } from '../../../dev/fake-fleet.js';
import { isReadAhead } from './fake-read-ahead.js';
import { fakeFacts, hostNames, makeInventory, runYaml } from './playbook-harness.js';

const KEY = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBSECRETSECRETSECRET\n-----END EC PRIVATE KEY-----\n';

function ctxFor(host: string, dryRun = false): TaskContext {
  const inv = makeInventory([host]);
  return {
    host: inv.hosts[0]!,
    vars: {},
    inventory: inv,
    playHosts: inv.hosts,
    run: undefined,
    dryRun,
    state: new HostState(),
    render: () => '',
    facts: () => Promise.reject(new Error('no facts in this test')),
    warn: () => undefined,
  };
}

async function converge(task: Task, host: FakeHost, ctx: TaskContext) {
  const changes = await task.check(host, ctx);
  if (changes.length > 0) await task.apply(host, changes, ctx);
  ctx.state instanceof HostState && ctx.state.recordChanged(changes.flatMap((c) => (c.path ? [c.path] : [])));
  return changes;
}

test('file: create, no-op, content update with a diff, mode and owner fixed in place', async () => {
  const fleet = new FakeFleet(['a']);
  const m = fleet.machine('a');
  const host = new FakeHost(m);
  const ctx = ctxFor('a');
  const t = file({ path: '/etc/app/app.conf', content: 'port: 1\nname: x\n', mode: 0o640, owner: 'app', group: 'app' });
  const created = await converge(t, host, ctx);
  assert.equal(created.length, 1);
  assert.match(created[0]!.summary, /^create \/etc\/app\/app\.conf \(0640 app:app\)$/);
  assert.match(created[0]!.diff!, /^\+port: 1$/m);
  assert.deepEqual(m.files.get('/etc/app/app.conf'), { content: Buffer.from('port: 1\nname: x\n'), mode: 0o640, owner: 'app', group: 'app' });

  m.calls.length = 0;
  assert.deepEqual(await converge(t, host, ctx), []);
  assert.deepEqual(m.calls.map((c) => c.method), ['exec'], 'a no-op check is one command');

  const t2 = file({ path: '/etc/app/app.conf', content: 'port: 2\nname: x\n', mode: 0o640, owner: 'app', group: 'app' });
  const updated = await converge(t2, host, ctx);
  assert.deepEqual(updated.map((c) => c.summary), ['update /etc/app/app.conf']);
  assert.match(updated[0]!.diff!, /^-port: 1\n\+port: 2$/m);
  assert.match(updated[0]!.diff!, /^--- \/etc\/app\/app\.conf\tcurrent$/m);

  m.files.get('/etc/app/app.conf')!.mode = 0o666;
  m.files.get('/etc/app/app.conf')!.owner = 'root';
  m.calls.length = 0;
  const fixed = await converge(t2, host, ctx);
  assert.deepEqual(fixed.map((c) => c.summary), ['mode /etc/app/app.conf: 0666 → 0640', 'owner /etc/app/app.conf: root:app → app:app']);
  assert.ok(!m.calls.some((c) => c.method === 'writeFile'), 'mode/owner only: no rewrite');
  assert.equal(m.files.get('/etc/app/app.conf')!.mode, 0o640);
  assert.equal(m.files.get('/etc/app/app.conf')!.owner, 'app');
});

test('file diffs mask secrets: whole secret files show no content; private keys and tokens are masked anywhere', async () => {
  const host = new FakeHost(new FakeFleet(['a']).machine('a'));
  const ctx = ctxFor('a', true);
  const secret = await file({ path: '/etc/kubernetes/ssl/ca.key', content: KEY, mode: 0o600, secret: true }).check(host, ctx);
  assert.doesNotMatch(secret[0]!.diff!, /SECRET|BEGIN/);
  assert.match(secret[0]!.diff!, /secret content not shown \(absent → \d+ bytes\)/);
  const kubeconfig = `users:\n- name: admin\n  user:\n    client-key-data: QUJDU0VDUkVU\n    token: abcdef123\nextra: |\n  ${KEY.replace(/\n/g, '\n  ')}`;
  const masked = await file({ path: '/etc/kubernetes/admin.conf', content: kubeconfig, mode: 0o600 }).check(host, ctx);
  const diff = masked[0]!.diff!;
  assert.doesNotMatch(diff, /QUJDU0VDUkVU|abcdef123|SECRETSECRET/);
  assert.match(diff, /client-key-data: \*{8}/);
  assert.match(diff, /token: \*{8}/);
  const custom = await file({ path: '/etc/x.env', content: 'ETCD_PEER_PW=hunter2\n', mask: [/_PW=(\S+)/] }).check(host, ctx);
  assert.match(custom[0]!.diff!, /^\+ETCD_PEER_PW=\*{8}$/m);
});

test('directory: created with mode and owner, errors when a file is in the way', async () => {
  const m = new FakeFleet(['a']).machine('a');
  const host = new FakeHost(m);
  const ctx = ctxFor('a');
  const t = directory({ path: '/etc/kubernetes/ssl', mode: 0o700, owner: 'kube' });
  assert.deepEqual((await converge(t, host, ctx)).map((c) => c.summary), ['create directory /etc/kubernetes/ssl (0700 kube:)']);
  assert.deepEqual(m.dirs.get('/etc/kubernetes/ssl'), { mode: 0o700, owner: 'kube', group: 'root' });
  assert.deepEqual(await converge(t, host, ctx), []);
  m.dirs.get('/etc/kubernetes/ssl')!.mode = 0o755;
  assert.deepEqual((await converge(t, host, ctx)).map((c) => c.summary), ['mode /etc/kubernetes/ssl: 0755 → 0700']);
  m.putFile('/etc/blocker', 'x');
  await assert.rejects(directory({ path: '/etc/blocker' }).check(host, ctx), /should be a directory but is a file/);
});

test('binary: uploads only when the sha256 differs; a mode change sends no bytes', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-bin-'));
  const local = path.join(dir, 'etcd');
  const bytes = Buffer.from('#!/bin/sh\necho etcd\n'.repeat(100));
  await writeFile(local, bytes);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const m = new FakeFleet(['a']).machine('a');
  const host = new FakeHost(m);
  const ctx = ctxFor('a');
  const t = binary({ path: '/usr/local/bin/etcd', source: local, sha256: sha });
  const first = await converge(t, host, ctx);
  assert.match(first[0]!.summary, /^upload \/usr\/local\/bin\/etcd \(sha256 [0-9a-f]{12}…, 0755\)$/);
  assert.equal(m.bytesUploaded, bytes.length);
  assert.deepEqual(await converge(t, host, ctx), []);
  m.files.get('/usr/local/bin/etcd')!.mode = 0o644;
  assert.deepEqual((await converge(t, host, ctx)).map((c) => c.summary), ['mode /usr/local/bin/etcd: 0644 → 0755']);
  assert.equal(m.bytesUploaded, bytes.length, 'no second upload');
  m.putFile('/usr/local/bin/etcd', 'tampered', { mode: 0o755 });
  assert.match((await converge(t, host, ctx))[0]!.summary, /^upload .* → [0-9a-f]{12}…\)$/);
  assert.equal(m.files.get('/usr/local/bin/etcd')!.content.equals(bytes), true);
});

test('service: daemon-reload only when a unit file changed in this run; enable and start as needed', async () => {
  const m = new FakeFleet(['a']).machine('a');
  const host = new FakeHost(m);
  const ctx = ctxFor('a');
  const unit = file({ path: '/etc/systemd/system/etcd.service', content: '[Service]\nExecStart=/usr/local/bin/etcd\n' });
  const svc = service({ unit: 'etcd' });
  await converge(unit, host, ctx);
  const changes = await converge(svc, host, ctx);
  assert.deepEqual(changes.map((c) => c.summary), [
    'systemctl daemon-reload (changed: /etc/systemd/system/etcd.service)',
    'enable etcd.service',
    'start etcd.service (now inactive)',
  ]);
  assert.deepEqual(m.units.get('etcd.service'), { enabled: true, active: true, failed: false, needReload: false });
  assert.equal(m.daemonReloads, 1);

  // A new run on an unchanged host: nothing at all.
  const ctx2 = ctxFor('a');
  assert.deepEqual(await converge(unit, host, ctx2), []);
  assert.deepEqual(await converge(svc, host, ctx2), []);
  assert.equal(m.daemonReloads, 1);

  // systemd itself saying a reload is needed is honoured too.
  m.units.get('etcd.service')!.needReload = true;
  assert.match((await converge(svc, host, ctxFor('a')))[0]!.summary, /daemon-reload \(systemd reports etcd.service changed on disk\)/);

  m.units.get('etcd.service')!.active = false;
  m.units.get('etcd.service')!.startFails = true;
  await assert.rejects(converge(svc, host, ctxFor('a')), /systemctl start -- etcd.service/);
});

test('restart handler: reloads systemd first when needed, restarts, waits until active; a failed unit shows its status and journal', async () => {
  const m = new FakeFleet(['a']).machine('a');
  const host = new FakeHost(m);
  const ctx = ctxFor('a');
  m.putFile('/etc/systemd/system/kubelet.service', '[Service]\n');
  m.units.set('kubelet.service', { enabled: true, active: true });
  (ctx.state as HostState).recordChanged(['/etc/systemd/system/kubelet.service']);
  const h = restartHandler({ unit: 'kubelet', intervalMs: 10, timeoutMs: 500 });
  assert.equal(h.name, 'restart kubelet');
  await h.run(host, ctx);
  await h.waitHealthy!(host, ctx);
  assert.equal(m.daemonReloads, 1);
  assert.deepEqual(m.restarts.map((r) => r.unit), ['kubelet.service']);

  m.units.get('kubelet.service')!.active = false;
  m.units.get('kubelet.service')!.failed = true;
  await assert.rejects(h.waitHealthy!(host, ctx), (err: Error & { output?: string[] }) => {
    assert.match(err.message, /kubelet.service failed/);
    assert.ok(err.output?.some((l) => /Active: failed/.test(l)));
    assert.ok(err.output?.some((l) => /journal of kubelet.service/.test(l)));
    return true;
  });

  let probes = 0;
  m.units.get('kubelet.service')!.failed = false;
  m.units.get('kubelet.service')!.active = true;
  m.script = (argv) => (argv[0] === 'kubelet-ready' ? { code: 0, stdout: 'not yet\n', stderr: '' } : undefined);
  const never = restartHandler({ unit: 'kubelet', intervalMs: 10, timeoutMs: 60, healthy: { command: () => ({ argv: ['kubelet-ready'] }), accept: () => (probes++, false) } });
  const started = performance.now();
  await assert.rejects(never.waitHealthy!(host, ctx), /did not become healthy: timed out after 0\.1 s/);
  assert.ok(performance.now() - started < 1000, 'the wait is bounded');
  assert.ok(probes >= 1 && probes <= 7, `bounded number of probes (${probes})`);
});

test('command: runs only when its guard says so', async () => {
  const m = new FakeFleet(['a']).machine('a');
  const host = new FakeHost(m);
  const ctx = ctxFor('a');
  const runs: string[][] = [];
  m.script = (argv) => {
    if (argv[0] === 'kubeadm-like') {
      runs.push([...argv]);
      m.putFile('/var/lib/done', 'x');
      return { code: 0, stdout: '', stderr: '' };
    }
    if (argv[0] === 'probe') return { code: m.files.has('/var/lib/done') ? 0 : 1, stdout: '', stderr: '' };
    return undefined;
  };
  const creates = command({ name: 'init', argv: ['kubeadm-like', 'init', '--x=1'], creates: '/var/lib/done' });
  assert.deepEqual((await converge(creates, host, ctx)).map((c) => c.summary), ["run kubeadm-like init '--x=1'"]);
  assert.deepEqual(await converge(creates, host, ctx), []);
  assert.equal(runs.length, 1);
  const unless = command({ name: 'init2', argv: ['kubeadm-like'], unless: ['probe'], summary: 'initialise' });
  assert.deepEqual(await converge(unless, host, ctx), []);
});

test('sysctl and kernel modules: runtime value and persisted file', async () => {
  const m = new FakeFleet(['a']).machine('a');
  const host = new FakeHost(m);
  const ctx = ctxFor('a');
  m.sysctls.set('net.ipv4.ip_forward', '0');
  m.sysctls.set('net.ipv4.ip_local_port_range', '32768\t60999');
  const t = sysctl({ settings: { 'net.ipv4.ip_forward': 1, 'net.ipv4.ip_local_port_range': '32768 60999' } });
  assert.deepEqual((await converge(t, host, ctx)).map((c) => c.summary), [
    'create /etc/sysctl.d/99-kubernetes.conf (0644)',
    'set net.ipv4.ip_forward = 1 (now 0)',
  ]);
  assert.equal(m.sysctls.get('net.ipv4.ip_forward'), '1');
  assert.match(m.files.get('/etc/sysctl.d/99-kubernetes.conf')!.content.toString(), /^net\.ipv4\.ip_forward = 1$/m);
  assert.deepEqual(await converge(t, host, ctx), []);

  const mod = kernelModule({ module: 'br_netfilter' });
  assert.deepEqual((await converge(mod, host, ctx)).map((c) => c.summary), ['create /etc/modules-load.d/br_netfilter.conf (0644)', 'load kernel module br_netfilter']);
  assert.ok(m.modules.has('br_netfilter'));
  assert.deepEqual(await converge(mod, host, ctx), []);
});

/** A role built only from helpers: what a real role looks like. */
function etcdLikeRole(binPath: string, binSha: string, version: { v: string }): Role {
  return {
    name: 'etcd',
    handlers: [restartHandler({ unit: 'etcd', rolling: true, intervalMs: 5, timeoutMs: 500 })],
    tasks: (ctx) => [
      directory({ path: '/var/lib/etcd', mode: 0o700 }),
      binary({ path: '/usr/local/bin/etcd', source: binPath, sha256: binSha }),
      file({ path: '/etc/etcd.env', content: `ETCD_NAME=${ctx.host.name}\nETCD_VERSION=${version.v}\n`, notify: ['restart etcd'] }),
      file({ path: '/etc/ssl/etcd/member.key', content: `${KEY}${ctx.host.name}\n`, mode: 0o600, secret: true, notify: ['restart etcd'] }),
      file({ path: '/etc/systemd/system/etcd.service', content: '[Service]\nEnvironmentFile=/etc/etcd.env\nExecStart=/usr/local/bin/etcd\n', notify: ['restart etcd'] }),
      service({ unit: 'etcd' }),
      sysctl({ settings: { 'net.ipv4.ip_forward': 1 } }),
      kernelModule({ module: 'br_netfilter' }),
      command({ name: 'init data', argv: ['etcd-init'], creates: '/var/lib/etcd/member' }),
    ],
  };
}

test('plan modifies nothing; apply converges; a second apply changes nothing; a changed input restarts one host at a time', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-etcd-'));
  const bin = path.join(dir, 'etcd');
  await writeFile(bin, 'etcd binary v3.4.23');
  const sha = createHash('sha256').update('etcd binary v3.4.23').digest('hex');
  const names = hostNames(3);
  const inv = makeInventory(names, { etcd: names });
  const fleet = new FakeFleet(names);
  for (const m of fleet.machines.values()) {
    m.sysctls.set('net.ipv4.ip_forward', '0');
    m.script = (argv) => {
      if (argv[0] !== 'etcd-init') return undefined;
      m.mkdirs('/var/lib/etcd/member');
      return { code: 0, stdout: '', stderr: '' };
    };
  }
  const version = { v: '3.4.23' };
  const roles = [etcdLikeRole(bin, sha, version)];
  const yaml = '- name: etcd\n  hosts: etcd\n  roles: [etcd]\n';
  const before = names.map((n) => fleet.machine(n).snapshot());

  const plan = await runYaml(yaml, { inventory: inv, roles, fleet, dryRun: true, gatherFacts: fakeFacts });
  assert.deepEqual(names.map((n) => fleet.machine(n).snapshot()), before, 'every host is byte-identical after a plan');
  assert.deepEqual(fleet.allCalls().filter((c) => c.mutating), [], 'not one mutating call');
  const planned = plan.of('task:finish').filter((e) => e.host === 'node1' && e.status === 'changed').map((e) => e.task);
  assert.deepEqual(planned, [
    'directory /var/lib/etcd',
    'binary /usr/local/bin/etcd',
    'file /etc/etcd.env',
    'file /etc/ssl/etcd/member.key',
    'file /etc/systemd/system/etcd.service',
    'service etcd.service',
    'sysctl net.ipv4.ip_forward',
    'kernel module br_netfilter',
    'init data',
  ]);
  assert.deepEqual(plan.of('handler:finish').map((e) => [e.host, e.status, e.reason]), names.map((n) => [n, 'changed', 'dry run: would run']));
  assert.doesNotMatch(JSON.stringify(plan.events), /SECRETSECRET/, 'no secret in any event');

  const applied = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.equal(applied.result.status, 'ok');
  // Files changed after etcd started (sysctl, module): the restart runs.
  assert.deepEqual(applied.result.recap.map((r) => r.changed), [10, 10, 10], '9 tasks and the handler');
  for (const n of names) {
    const m = fleet.machine(n);
    assert.equal(m.daemonReloads, 1);
    assert.deepEqual(m.units.get('etcd.service')?.active, true);
    assert.equal(m.restarts.length, 1);
  }

  for (const m of fleet.machines.values()) m.calls.length = 0;
  const again = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.deepEqual(again.result.recap.map((r) => [r.changed, r.ok]), [[0, 9], [0, 9], [0, 9]]);
  assert.deepEqual(fleet.allCalls().filter((c) => c.mutating), [], 'a no-op run writes nothing, reloads nothing, restarts nothing');
  // One command per host: the read of everything the nine tasks check (paths, unit, sysctl, module).
  assert.deepEqual(
    fleet.allCalls().filter((c) => c.method !== 'close').map((c) => (isReadAhead(c.argv) ? 'read-ahead' : c.argv?.join(' '))),
    names.map(() => 'read-ahead'),
    'round trips of a no-op run',
  );

  version.v = '3.4.24';
  const changed = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.deepEqual(changed.of('task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host}:${e.task}`).sort(), names.map((n) => `${n}:file /etc/etcd.env`));
  const restarts = names.map((n) => fleet.machine(n).restarts[1]!.at).sort((a, b) => a - b);
  assert.equal(restarts.length, 3);
  assert.equal(new Set(restarts).size, 3, 'restarts happen one after another');
  assert.match(changed.of('task:finish').find((e) => e.status === 'changed')!.changes[0]!.diff!, /^-ETCD_VERSION=3\.4\.23\n\+ETCD_VERSION=3\.4\.24$/m);
});

test('binary: a host whose disk is full fails that host with host, path and "no space left on device"', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-full-'));
  const bin = path.join(dir, 'kubelet');
  const bytes = Buffer.alloc(64 * 1024, 'k');
  await writeFile(bin, bytes);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const names = hostNames(3);
  const fleet = new FakeFleet(names);
  fleet.machine('node3').freeBytes = 1000;
  const roles: Role[] = [{ name: 'node', tasks: () => [binary({ path: '/usr/local/bin/kubelet', source: bin, sha256: sha })] }];
  const run = await runYaml('- name: node\n  hosts: all\n  roles: [node]\n', { inventory: makeInventory(names), roles, fleet, gatherFacts: fakeFacts });
  assert.equal(run.result.status, 'failed');
  const failed = run.of('task:finish').filter((e) => e.status === 'failed');
  assert.deepEqual(failed.map((e) => [e.host, e.error?.message]), [['node3', 'writing /usr/local/bin/kubelet: no space left on device']]);
  assert.equal(
    formatFailure('node3', failed[0]!.task, failed[0]!.error!).split('\n')[0],
    'node3: binary /usr/local/bin/kubelet: writing /usr/local/bin/kubelet: no space left on device',
  );
  assert.equal(fleet.machine('node3').files.has('/usr/local/bin/kubelet'), false);
  assert.ok(fleet.machine('node1').files.get('/usr/local/bin/kubelet')!.content.equals(bytes), 'the other hosts got it');
});
