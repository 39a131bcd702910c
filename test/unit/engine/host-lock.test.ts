/**
 * The host lock (src/engine/host-lock.ts): its script against the real sh, and the engine taking
 * it on the first read-ahead (no extra round trip), refusing a host another run holds, taking over
 * a stale one, and releasing it at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Task } from '../../../src/engine/contract.js';
import { HOST_LOCK_DIR, hostLockArgv, splitLockLine, type HostLockOptions } from '../../../src/engine/host-lock.js';
import type { RunHolder } from '../../../src/engine/run-holder.js';
import { KprovError } from '../../../src/errors.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { tempDir } from '../../support/temp-dir.js';
import { answerReadAhead, isReadAhead } from './fake-read-ahead.js';
import { hostLockMode, isHostLock } from './fake-host-lock.js';
import { clusterInventory, convergingTask, hostNames, makeInventory, role, runYaml, type RunSetup } from './playbook-harness.js';
import { executePlan } from '../../../src/engine/executor.js';
import { planRun } from '../../../src/engine/run-plan.js';
import { parsePlaybook } from '../../../src/engine/playbook.js';
import { RoleRegistry } from '../../../src/engine/role-registry.js';
import type { RunEvent } from '../../../src/engine/events.js';
import { file } from '../../../src/engine/tasks/index.js';

const holder = (runId: string, over: Partial<RunHolder> = {}): RunHolder => ({
  runId,
  user: 'root',
  host: 'ctl-a',
  pid: 4242,
  since: new Date().toISOString(),
  command: 'kprov apply cluster',
  ...over,
});

/** Runs the lock script with the real sh on a directory of this machine instead of /run/kprov.lock. */
function script(dir: string, mode: 'take' | 'refresh' | 'takeover' | 'release', who: RunHolder, expect = '', inner: string[] = []) {
  const argv = hostLockArgv(mode, who, expect, inner);
  argv[5] = dir;
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return { code: r.status, ...splitLockLine(r.stdout), stderr: r.stderr };
}

test('the lock script: mkdir takes it, another run is told who holds it and how old it is, release and takeover check the owner', async (t) => {
  const dir = path.join(await tempDir(t), 'kprov.lock');
  const a = holder('aaaa0001');
  const b = holder('bbbb0002', { host: 'ctl-b' });

  const took = script(dir, 'take', a, '', ['sh', '-c', 'echo read-ahead output']);
  assert.deepEqual([took.code, took.line, took.rest], [0, { state: 'taken' }, 'read-ahead output\n'], took.stderr);
  assert.equal((await readFile(path.join(dir, 'owner'), 'utf8')).trim(), JSON.stringify(a));
  assert.equal((await stat(dir)).mode & 0o777, 0o700);

  const refused = script(dir, 'take', b, '', ['sh', '-c', 'echo must not run']);
  assert.equal(refused.code, 75);
  assert.equal(refused.rest, '', 'the wrapped command does not run');
  assert.equal(refused.line?.state, 'held');
  assert.ok(refused.line?.state === 'held' && refused.line.ageSeconds >= 0 && refused.line.ageSeconds < 5);
  assert.ok(refused.line?.state === 'held' && refused.line.owner === JSON.stringify(a));

  assert.deepEqual(script(dir, 'take', a).line, { state: 'taken' }, 'taking it again is fine for its own run');
  assert.deepEqual(script(dir, 'refresh', a).line, { state: 'taken' });
  assert.deepEqual(script(dir, 'refresh', b).line, { state: 'lost', owner: JSON.stringify(a) });

  assert.equal(script(dir, 'takeover', b, '{"not":"the owner"}').line?.state, 'held', 'a takeover replaces only the lock it judged');
  assert.deepEqual(script(dir, 'release', b).line, { state: 'released' });
  await stat(dir);
  assert.deepEqual(script(dir, 'takeover', b, JSON.stringify(a)).line, { state: 'taken' });
  assert.equal((await readFile(path.join(dir, 'owner'), 'utf8')).trim(), JSON.stringify(b));
  assert.deepEqual(script(dir, 'release', b).line, { state: 'released' });
  await assert.rejects(stat(dir), /ENOENT/);
});

const options = (runId: string, staleReason: HostLockOptions['staleReason'] = async () => undefined): HostLockOptions => ({ holder: holder(runId), staleReason });

/** A task whose check reads a path ahead (so each play reads ahead), changed until applied. */
function readingTask(name: string): Task {
  return file({ path: `/etc/${name}.conf`, content: `${name}\n` });
}

async function run(yaml: string, setup: RunSetup & { hostLock?: HostLockOptions }) {
  return runWith(yaml, setup);
}

/** A clock 6 minutes further on at every look: every read-ahead is due to refresh the lock. */
function hastyClock(): { now(): number } {
  let t = Date.now();
  return { now: () => (t += 6 * 60_000) };
}

async function runWith(yaml: string, setup: RunSetup & { hostLock?: HostLockOptions }) {
  const events: RunEvent[] = [];
  const plan = planRun(parsePlaybook(yaml, 'test.yml'), setup.inventory, new RoleRegistry(setup.roles), { tags: [], skipTags: [] });
  answerReadAhead(setup.fleet);
  const result = await executePlan(plan, {
    dryRun: setup.dryRun ?? false,
    connector: { connect: setup.fleet.connect },
    emit: (e) => events.push(e),
    run: undefined,
    ...(setup.hostLock ? { hostLock: setup.hostLock } : {}),
    ...(setup.clock ? { clock: setup.clock } : {}),
  });
  return { result, events, of: <T extends RunEvent['type']>(type: T) => events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type) };
}

const THREE_PLAYS = '- name: one\n  hosts: all\n  roles: [a]\n- name: two\n  hosts: all\n  roles: [b]\n- name: three\n  hosts: all\n  roles: [a]\n';

const lockModes = (fleet: FakeFleet, host: string) =>
  fleet
    .machine(host)
    .calls.filter((c) => c.method === 'exec' && isHostLock(c.argv))
    .map((c) => `${hostLockMode(c.argv!)}${c.argv!.length > 9 && isReadAhead(c.argv!.slice(9)) ? '+read' : ''}`);

test('the lock rides on each host\'s first read-ahead: one extra command per host, the release', async () => {
  const inv = makeInventory(hostNames(3));
  const roles = [role('a', () => [readingTask('a')]), role('b', () => [readingTask('b')])];
  const without = new FakeFleet(hostNames(3));
  await run(THREE_PLAYS, { inventory: inv, roles, fleet: without });
  const locked = new FakeFleet(hostNames(3));
  const { result } = await run(THREE_PLAYS, { inventory: inv, roles, fleet: locked, hostLock: options('1111aaaa') });
  assert.equal(result.status, 'ok');
  for (const host of hostNames(3)) {
    const plain = without.machine(host).calls.filter((c) => c.method === 'exec');
    const calls = locked.machine(host).calls.filter((c) => c.method === 'exec');
    assert.equal(calls.length, plain.length + 1, `${host}: the same commands plus the release`);
    assert.deepEqual(lockModes(locked, host), ['take+read', 'release']);
    assert.equal(locked.machine(host).hostLock, undefined, 'released at the end');
  }
});

test('in a long run, read-aheads refresh the lock every few minutes, still with no command of their own', async () => {
  const inv = makeInventory(hostNames(2));
  const roles = [role('a', () => [readingTask('a')]), role('b', () => [readingTask('b')])];
  const fleet = new FakeFleet(hostNames(2));
  await run(THREE_PLAYS, { inventory: inv, roles, fleet, hostLock: options('1111aaaa'), clock: hastyClock() });
  for (const host of hostNames(2)) assert.deepEqual(lockModes(fleet, host), ['take+read', 'refresh+read', 'refresh+read', 'release']);
});

test('a host another run holds stops the whole run (refused): nothing more changes anywhere, our locks are released', async () => {
  const inv = makeInventory(hostNames(3));
  const fleet = new FakeFleet(hostNames(3));
  const theirs = JSON.stringify(holder('ffff0000', { host: 'ctl-b', pid: 777, since: '2025-01-31T10:05:03.000Z' }));
  fleet.machine('node2').hostLock = { owner: theirs, ageSeconds: 12 };
  const roles = [role('a', () => [readingTask('a')]), role('b', () => [readingTask('b')])];
  const { result, of } = await run(THREE_PLAYS, { inventory: inv, roles, fleet, hostLock: options('1111aaaa') });
  assert.ok(result.refusedBy instanceof KprovError);
  assert.equal(result.refusedBy.exitCode, 2);
  assert.equal(result.refusedBy.host, 'node2');
  assert.equal(result.refusedBy.message, 'another kprov run holds /run/kprov.lock on node2: pid 777 on host ctl-b since 2025-01-31 10:05:03 UTC (kprov apply cluster)');
  const node2 = of('host:finish').find((e) => e.host === 'node2')!;
  assert.equal(node2.status, 'failed');
  assert.equal(node2.step, 'read host state');
  assert.deepEqual(of('run:stop').map((e) => e.kind), ['refused']);
  assert.deepEqual(of('play:skip').map((e) => e.play), ['two', 'three']);
  assert.equal(fleet.machine('node2').files.size, 0, 'nothing changed on the held host');
  assert.equal(fleet.machine('node2').hostLock?.owner, theirs, 'their lock stays');
  for (const host of ['node1', 'node3']) assert.equal(fleet.machine(host).hostLock, undefined, `${host}: ours released`);
});

test('a stale host lock is taken over with a warning; the run goes on', async () => {
  const inv = makeInventory(hostNames(2));
  const fleet = new FakeFleet(hostNames(2));
  const stale = JSON.stringify(holder('dead0000'));
  fleet.machine('node1').hostLock = { owner: stale, ageSeconds: 7200 };
  const judged: [string | undefined, number][] = [];
  const roles = [role('a', () => [readingTask('a')]), role('b', () => [readingTask('b')])];
  const { result, of } = await run(THREE_PLAYS, {
    inventory: inv,
    roles,
    fleet,
    hostLock: options('1111aaaa', async (held, age) => {
      judged.push([held?.runId, age]);
      return age > 3600 ? 'it was not refreshed for 120 min' : undefined;
    }),
  });
  assert.equal(result.status, 'ok');
  assert.deepEqual(judged, [['dead0000', 7200]]);
  assert.deepEqual(of('warning').map((e) => [e.host, e.message]), [['node1', `took over ${HOST_LOCK_DIR}: it was not refreshed for 120 min`]]);
  assert.equal(fleet.machine('node1').files.get('/etc/a.conf')?.content.toString(), 'a\n', 'the read after the takeover found the file missing and wrote it');
  assert.equal(fleet.machine('node1').hostLock, undefined);
});

test('without a read-ahead first, the lock is taken by its own command just before the first change', async () => {
  const inv = makeInventory(hostNames(1));
  const fleet = new FakeFleet(hostNames(1));
  const roles = [role('a', () => [convergingTask('no reads')])];
  await run('- name: one\n  hosts: all\n  roles: [a]\n', { inventory: inv, roles, fleet, hostLock: options('1111aaaa') });
  const order = fleet.machine('node1').calls.map((c) => (isHostLock(c.argv) ? `lock ${hostLockMode(c.argv!)}` : c.method));
  assert.deepEqual(order, ['sha256', 'lock take', 'writeFile', 'lock release', 'close']);
});

test('a run whose lock was taken over by another one stops at its next refresh', async () => {
  const inv = makeInventory(hostNames(2));
  const fleet = new FakeFleet(hostNames(2));
  const intruder = JSON.stringify(holder('eeee1111', { host: 'ctl-b' }));
  const roles = [
    role('a', () => [readingTask('a')]),
    role('b', (host) => [
      {
        name: 'lose the lock',
        async check() {
          if (host === 'node1') fleet.machine('node1').hostLock = { owner: intruder, ageSeconds: 0 };
          return [];
        },
        async apply() {},
      },
    ]),
  ];
  const { result } = await run(THREE_PLAYS, { inventory: inv, roles, fleet, hostLock: options('1111aaaa'), clock: hastyClock() });
  assert.match(result.refusedBy?.message ?? '', /^another kprov run took over \/run\/kprov\.lock on node1 from this one: pid 4242 on host ctl-b since/);
  assert.equal(fleet.machine('node1').hostLock?.owner, intruder);
});

test('a dry run takes no host lock', async () => {
  const inv = clusterInventory(1);
  const fleet = new FakeFleet(hostNames(4));
  await runYaml('- name: one\n  hosts: all\n  roles: [a]\n', { inventory: inv, roles: [role('a', () => [readingTask('a')])], fleet, dryRun: true });
  const { of } = await run('- name: one\n  hosts: all\n  roles: [a]\n', { inventory: inv, roles: [role('a', () => [readingTask('a')])], fleet, dryRun: true, hostLock: options('1111aaaa') });
  assert.equal(of('run:finish')[0]!.status, 'ok');
  assert.ok(fleet.allCalls().every((c) => !isHostLock(c.argv)));
});
