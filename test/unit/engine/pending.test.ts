/**
 * Restarts are never lost: a task that notifies a handler records it on the host before it
 * changes anything, the record goes only after the handler ran and its host is healthy, and the
 * next run's read-ahead turns a record it finds into a notification. Interrupted between a
 * file's write and its restart (a handler that throws, a host lost before the handlers), the next
 * run restarts exactly those units, rolling as before; a clean re-apply restarts nothing and
 * costs one command per host; a plan lists the owed restart and changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  parsePendingList,
  parseRecord,
  PENDING_DIR,
  PENDING_LIST_NAME,
  PENDING_LIST_SCRIPT,
  pendingRecordPath,
  pendingWriteArgv,
  PENDING_WRITE_SCRIPT,
  recordName,
} from '../../../src/engine/pending.js';
import { PlanCollector } from '../../../src/engine/render/format.js';
import { file, restartHandler, service } from '../../../src/engine/tasks/index.js';
import type { Handler, Role, Task } from '../../../src/engine/contract.js';
import { FakeFleet, type FakeMachine } from '../../../dev/fake-fleet.js';
import { isReadAhead } from './fake-read-ahead.js';
import { hostNames, makeInventory, runYaml } from './playbook-harness.js';

const run = promisify(execFile);
const PLAY = '- name: app\n  hosts: all\n  roles: [app]\n';
const APP_RECORD = pendingRecordPath('restart app');

test('records: names are safe file names; the write and list scripts under a real sh; cut-short lines are skipped', async (t) => {
  assert.equal(recordName('restart kube-apiserver'), 'restart%20kube-apiserver');
  assert.equal(recordName('../x/ü'), '%2E%2E%2Fx%2F%C3%BC', 'no / and no .. reach the file system');
  assert.equal(pendingRecordPath('restart etcd'), `${PENDING_DIR}/restart%20etcd`);

  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-pending-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const records = path.join(dir, 'pending');
  const write = (handlers: { name: string; unit?: string }[], changes: { path?: string; summary: string }[]) => {
    const argv = pendingWriteArgv(handlers, changes.map((c) => ({ kind: 'file' as const, ...c })));
    assert.equal(argv[4], PENDING_DIR);
    argv[4] = records;
    return run(argv[0]!, argv.slice(1));
  };
  await write([{ name: 'restart kube-apiserver', unit: 'kube-apiserver.service' }, { name: 'restart kube-scheduler', unit: 'kube-scheduler.service' }], [
    { path: '/etc/kubernetes/ssl/ca.crt', summary: 'update' },
  ]);
  await write([{ name: 'restart kube-apiserver', unit: 'kube-apiserver.service' }], [{ path: '/etc/systemd/system/kube-apiserver.service', summary: 'update' }, { summary: 'member add\nnode3' }]);
  assert.deepEqual((await readdir(records)).sort(), ['restart%20kube-apiserver', 'restart%20kube-scheduler']);
  const text = await readFile(path.join(records, 'restart%20kube-apiserver'), 'utf8');
  assert.equal(
    text,
    'handler restart kube-apiserver\nunit kube-apiserver.service\nchanged /etc/kubernetes/ssl/ca.crt\nchanged /etc/systemd/system/kube-apiserver.service\nchanged member add node3\n',
    'the header once, then what each task changed',
  );

  const listed = await run('sh', ['-c', PENDING_LIST_SCRIPT, PENDING_LIST_NAME, records]);
  const parsed = parsePendingList(listed.stdout);
  assert.deepEqual(
    parsed.map(({ since, ...r }) => (assert.ok(since! > 1_600_000_000), r)),
    [
      { handler: 'restart kube-apiserver', unit: 'kube-apiserver.service', changed: ['/etc/kubernetes/ssl/ca.crt', '/etc/systemd/system/kube-apiserver.service', 'member add node3'] },
      { handler: 'restart kube-scheduler', unit: 'kube-scheduler.service', changed: ['/etc/kubernetes/ssl/ca.crt'] },
    ],
  );
  assert.deepEqual(parsePendingList((await run('sh', ['-c', PENDING_LIST_SCRIPT, PENDING_LIST_NAME, path.join(dir, 'none')])).stdout), [], 'no directory: nothing owed');

  // A crash in the middle of an append leaves a partial line; a record without its header still names its handler.
  assert.deepEqual(parseRecord('changed /etc/a\nchan', 'restart x'), { handler: 'restart x', changed: ['/etc/a'] });
  assert.deepEqual(parsePendingList('\n@@ 17 restart%20x\nchanged /etc/a\n'), [{ handler: 'restart x', changed: ['/etc/a'], since: 17 }]);
});

interface AppSetup {
  version: { v: string };
  /** Hosts whose connection is lost right after the files are written (before the service task and the handlers). */
  loseAfterWrite: Set<string>;
  fleet?: FakeFleet;
  /** Hosts where the handler's run throws (a restart interrupted). */
  handlerThrowsOn: Set<string>;
}

/** A unit file and a config notifying a rolling restart, an unrelated service with its own handler. */
function appRole(setup: AppSetup): Role {
  const restartApp = restartHandler({ unit: 'app', rolling: true, intervalMs: 5, timeoutMs: 500 });
  const flaky: Handler = {
    ...restartApp,
    async run(host, ctx) {
      if (setup.handlerThrowsOn.has(host.name)) throw new Error('kprov was killed while it restarted app.service');
      return restartApp.run(host, ctx);
    },
  };
  const lose: Task = {
    name: 'the host goes away',
    async check(host) {
      return setup.loseAfterWrite.has(host.name) ? [{ kind: 'custom', summary: 'network down' }] : [];
    },
    async apply(host) {
      // The network goes: from now on the host answers nothing.
      setup.fleet!.machine(host.name).lost = true;
      await host.run(['true']);
    },
  };
  return {
    name: 'app',
    handlers: [flaky, restartHandler({ unit: 'other', intervalMs: 5, timeoutMs: 500 })],
    tasks: () => [
      file({ path: '/etc/systemd/system/app.service', content: `[Service]\nExecStart=/bin/app --v=${setup.version.v}\n`, notify: ['restart app'] }),
      file({ path: '/etc/app.conf', content: 'log: info\n', notify: ['restart app'] }),
      file({ path: '/etc/systemd/system/other.service', content: '[Service]\nExecStart=/bin/other\n', notify: ['restart other'] }),
      lose,
      service({ unit: 'app' }),
      service({ unit: 'other' }),
    ],
  };
}

const restartsOf = (m: FakeMachine) => m.restarts.map((r) => r.unit);
const commandsOf = (m: FakeMachine) => m.calls.filter((c) => c.method !== 'close').map((c) => (isReadAhead(c.argv) ? 'read-ahead' : `${c.method} ${c.argv?.join(' ') ?? c.path}`));

async function convergedFleet(names: string[], setup: AppSetup) {
  const fleet = new FakeFleet(names);
  const inventory = makeInventory(names);
  const roles = [appRole(setup)];
  const first = await runYaml(PLAY, { inventory, roles, fleet });
  assert.equal(first.result.status, 'ok', JSON.stringify(first.of('host:finish').map((e) => e.error)));
  for (const m of fleet.machines.values()) {
    assert.equal(m.files.has(APP_RECORD), false, 'a handler that ran leaves no record');
    m.restarts.length = 0;
  }
  return { fleet, inventory, roles };
}

test('a handler interrupted on one host: the next run restarts that unit on exactly the hosts still owed it, one at a time', async () => {
  const names = hostNames(3);
  const setup: AppSetup = { version: { v: '2' }, loseAfterWrite: new Set(), handlerThrowsOn: new Set() };
  const { fleet, inventory, roles } = await convergedFleet(names, setup);

  setup.version.v = '3';
  setup.handlerThrowsOn.add('node2');
  const interrupted = await runYaml(PLAY, { inventory, roles, fleet });
  assert.equal(interrupted.result.status, 'failed');
  assert.deepEqual(interrupted.of('handler:finish').map((e) => [e.host, e.handler, e.status]), [
    ['node1', 'restart app', 'changed'],
    ['node2', 'restart app', 'failed'],
    ['node3', 'restart app', 'skipped'],
  ]);
  assert.deepEqual(names.map((n) => restartsOf(fleet.machine(n))), [['app.service'], [], []]);
  assert.deepEqual(names.map((n) => fleet.machine(n).files.has(APP_RECORD)), [false, true, true], 'owed where the restart did not happen');
  assert.match(fleet.machine('node3').files.get(APP_RECORD)!.content.toString(), /^handler restart app\nunit app\.service\nchanged \/etc\/systemd\/system\/app\.service\n$/);

  // The files are right everywhere now, so nothing notifies the handler, except the records.
  setup.handlerThrowsOn.clear();
  for (const m of fleet.machines.values()) {
    m.calls.length = 0;
    m.restarts.length = 0;
  }
  const resumed = await runYaml(PLAY, { inventory, roles, fleet });
  assert.equal(resumed.result.status, 'ok', JSON.stringify(resumed.of('handler:finish').map((e) => e.error)));
  assert.deepEqual(
    resumed.of('task:finish').filter((e) => e.status === 'changed').map((e) => [e.host, e.task, e.changes.map((c) => c.summary)]),
    ['node2', 'node3'].map((h) => [h, 'pending: restart app', ['restart app (pending from an interrupted run: /etc/systemd/system/app.service changed)']]),
  );
  assert.deepEqual(names.map((n) => restartsOf(fleet.machine(n))), [[], ['app.service'], ['app.service']], 'exactly that unit, exactly there');
  assert.deepEqual(resumed.of('handlers:start')[0]!.runs, [{ handler: 'restart app', role: 'app', hosts: ['node2', 'node3'], rolling: true }]);
  const [r2, r3] = [fleet.machine('node2').restarts[0]!.at, fleet.machine('node3').restarts[0]!.at];
  const node2Healthy = resumed.of('handler:finish').find((e) => e.host === 'node2')!;
  const node3Start = resumed.of('handler:start').find((e) => e.host === 'node3')!;
  assert.ok(r2 < r3 && node2Healthy.time <= node3Start.time, 'rolling: node2 healthy before node3 restarts');
  assert.deepEqual(names.map((n) => fleet.machine(n).files.has(APP_RECORD)), [false, false, false]);
  assert.deepEqual(commandsOf(fleet.machine('node1')), ['read-ahead'], 'a host owed nothing pays nothing');
  assert.deepEqual(
    commandsOf(fleet.machine('node3')),
    ['read-ahead', `readFile ${APP_RECORD}`, 'exec systemctl show --property=Id,LoadState,ActiveState,UnitFileState,NeedDaemonReload -- app.service', 'exec systemctl restart -- app.service', 'exec systemctl show --property=ActiveState,NRestarts -- app.service', `exec rm -f -- ${APP_RECORD}`],
    'the record read only where it exists; cleared after the health wait',
  );

  // A clean re-apply: nothing restarts, nothing is written, one command per host.
  for (const m of fleet.machines.values()) m.calls.length = 0;
  const clean = await runYaml(PLAY, { inventory, roles, fleet });
  assert.deepEqual(clean.result.recap.map((r) => r.changed), [0, 0, 0]);
  assert.deepEqual(clean.of('handlers:start'), []);
  assert.deepEqual(fleet.allCalls().filter((c) => c.mutating), []);
  for (const n of names) assert.deepEqual(commandsOf(fleet.machine(n)), ['read-ahead'], n);
  // The records of both handlers ride along in the one read: 3 files + 2 records.
  assert.deepEqual(clean.of('host:read').map((e) => e.paths), [5, 5, 5]);
});

test('a host lost after a file write: the next run reloads systemd and restarts that unit there only; a plan lists it and changes nothing', async () => {
  const names = hostNames(3);
  const setup: AppSetup = { version: { v: '2' }, loseAfterWrite: new Set(), handlerThrowsOn: new Set() };
  const { fleet, inventory, roles } = await convergedFleet(names, setup);
  setup.fleet = fleet;

  setup.version.v = '3';
  setup.loseAfterWrite.add('node3');
  const lost = await runYaml(PLAY, { inventory, roles, fleet });
  assert.equal(lost.result.status, 'failed');
  assert.equal(lost.of('host:finish').find((e) => e.host === 'node3')!.status, 'failed');
  assert.match(lost.of('warning').map((e) => e.message).join('\n'), /handler "restart app" was notified but did not run because the host failed; it stays recorded as pending on the host and the next apply runs it/);
  assert.deepEqual(names.map((n) => restartsOf(fleet.machine(n))), [['app.service'], ['app.service'], []]);
  const node3 = fleet.machine('node3');
  const order = commandsOf(node3);
  const recorded = order.findIndex((c) => c.startsWith(`exec sh -c ${PENDING_WRITE_SCRIPT}`));
  assert.ok(recorded >= 0 && recorded < order.indexOf('writeFile /etc/systemd/system/app.service'), 'the record is on the host before the file changes');
  assert.equal(node3.units.get('app.service')!.needReload, true, 'the unit file changed and nobody reloaded systemd');
  assert.ok(node3.files.has(APP_RECORD));
  assert.equal(node3.files.has(pendingRecordPath('restart other')), false, 'other.service was not touched: nothing owed');

  // The host is back. The plan: the owed restart is a change on node3, the handler would run; not one mutating call.
  setup.loseAfterWrite.clear();
  node3.lost = false;
  for (const m of fleet.machines.values()) m.calls.length = 0;
  const before = node3.snapshot();
  const plan = await runYaml(PLAY, { inventory, roles, fleet, dryRun: true });
  assert.deepEqual(fleet.allCalls().filter((c) => c.mutating), []);
  assert.equal(node3.snapshot(), before);
  const collector = new PlanCollector();
  for (const e of plan.events) collector.add(e);
  const text = collector.format().join('\n');
  assert.match(text, /node1: no changes\nnode2: no changes\nnode3: 2 changes\n {2}app: service app\.service\n {4}~ systemctl daemon-reload \(systemd reports app\.service changed on disk\)\n {2}app: pending: restart app\n {4}~ restart app \(pending from an interrupted run: \/etc\/systemd\/system\/app\.service changed\)\n {2}handler: restart app/);
  assert.deepEqual(plan.of('handler:finish').map((e) => [e.host, e.status, e.reason]), [['node3', 'changed', 'dry run: would run']]);

  const resumed = await runYaml(PLAY, { inventory, roles, fleet });
  assert.equal(resumed.result.status, 'ok', JSON.stringify(resumed.of('host:finish').map((e) => e.error)));
  assert.deepEqual(names.map((n) => restartsOf(fleet.machine(n))), [['app.service'], ['app.service'], ['app.service']]);
  assert.equal(node3.units.get('app.service')!.needReload, false, 'reloaded before the restart');
  assert.equal(node3.files.has(APP_RECORD), false);
  const again = await runYaml(PLAY, { inventory, roles, fleet });
  assert.deepEqual(again.result.recap.map((r) => r.changed), [0, 0, 0], 'and then nothing is owed');
});
