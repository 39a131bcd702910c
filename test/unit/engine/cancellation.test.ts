/**
 * Stopping a run (the CLI aborts the signal on SIGINT/SIGTERM): nothing new starts, steps in flight
 * end (bounded by the grace), the run finishes `interrupted` with what it left to the next run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Handler, Role, Task } from '../../../src/engine/contract.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { clusterInventory, convergingTask, hostNames, makeInventory, role, runYaml } from './playbook-harness.js';

/**
 * A task that aborts the run once `hosts` hosts are in it (all of them in flight), from `host`,
 * then takes `ms` to finish.
 */
function interruptAt(controller: AbortController, host: string, ms = 20, hosts = 1): Task {
  let entered = 0;
  let everyone: () => void = () => undefined;
  const allIn = new Promise<void>((resolve) => (everyone = resolve));
  return {
    name: 'interrupting',
    async check(h) {
      entered += 1;
      if (entered >= hosts) everyone();
      await allIn;
      if (h.name === host) controller.abort('SIGTERM');
      await sleep(ms);
      return [{ kind: 'custom', summary: 'did it' }];
    },
    async apply() {},
  };
}

test('an interrupt lets steps in flight end, starts nothing new, and finishes the run interrupted', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  const controller = new AbortController();
  const interrupting = interruptAt(controller, 'node1', 20, 5);
  const roles = [
    role('a', () => [convergingTask('first'), interrupting, convergingTask('after')]),
    role('b', () => [convergingTask('never')]),
  ];
  const yaml = '- name: one\n  hosts: all\n  roles: [a]\n- name: two\n  hosts: all\n  roles: [b]\n';
  const { events, of, result } = await runYaml(yaml, { inventory: inv, roles, fleet, signal: controller.signal });
  assert.equal(result.status, 'interrupted');
  const last = events.at(-1)!;
  assert.equal(last.type, 'run:finish');
  assert.equal(last.type === 'run:finish' && last.status, 'interrupted');
  assert.equal(last.type === 'run:finish' && last.stopped, 'interrupted (SIGTERM)');
  const stop = of('run:stop');
  assert.deepEqual(stop.map((e) => [e.kind, e.reason, e.graceMs]), [['interrupted', 'interrupted (SIGTERM)', 30_000]]);

  for (const host of hostNames(5)) {
    const tasks = of('task:finish').filter((e) => e.host === host).map((e) => `${e.task}:${e.status}`);
    assert.deepEqual(tasks, ['first:changed', 'interrupting:changed', 'after:skipped'], `${host}: the step in flight ended, nothing new started`);
    assert.equal(of('host:finish').find((e) => e.host === host)!.status, 'interrupted');
  }
  assert.equal(of('task:start').filter((e) => e.task === 'after').length, 0);
  assert.deepEqual(of('play:skip').map((e) => [e.play, e.reason]), [['two', 'interrupted (SIGTERM)']]);
  assert.equal(of('play:finish')[0]!.status, 'interrupted');
  assert.deepEqual(result.leftBehind.find((h) => h.host === 'node3'), {
    host: 'node3',
    why: 'interrupted',
    at: 'one: before a: after',
    done: [],
    pending: ['one', 'two'],
    handlers: [],
  });
  assert.ok(fleet.opened.every((h) => h.closed), 'connections are closed');
});

test('hosts waiting for a slot (--concurrency) do not start after an interrupt', async () => {
  const inv = makeInventory(hostNames(6));
  const fleet = new FakeFleet(hostNames(6));
  const controller = new AbortController();
  const interrupting = interruptAt(controller, 'node1', 10, 2);
  const roles = [role('a', () => [interrupting])];
  const { of, result } = await runYaml('- name: one\n  hosts: all\n  roles: [a]\n', { inventory: inv, roles, fleet, signal: controller.signal, concurrency: 2 });
  assert.deepEqual([...fleet.connects.keys()].sort(), ['node1', 'node2']);
  for (const host of ['node3', 'node4', 'node5', 'node6']) {
    const finish = of('host:finish').find((e) => e.host === host)!;
    assert.deepEqual([finish.status, finish.reason], ['skipped', 'interrupted (SIGTERM)'], host);
    assert.deepEqual(result.leftBehind.find((h) => h.host === host), { host, why: 'stopped', done: [], pending: ['one'], handlers: [] });
  }
});

test('handlers notified before an interrupt do not run; the run says so per host', async () => {
  const inv = makeInventory(hostNames(2));
  const fleet = new FakeFleet(hostNames(2));
  const controller = new AbortController();
  const ran: string[] = [];
  const restart: Handler = { name: 'restart app', async run(h) { ran.push(h.name); } };
  const interrupting = interruptAt(controller, 'node2', 20, 2);
  const roles: Role[] = [{ name: 'app', handlers: [restart], tasks: () => [convergingTask('config', { notify: ['restart app'] }), interrupting] }];
  const { of, result } = await runYaml('- name: one\n  hosts: all\n  roles: [app]\n', { inventory: inv, roles, fleet, signal: controller.signal });
  assert.deepEqual(ran, []);
  assert.deepEqual(of('handlers:start'), []);
  assert.equal(result.status, 'interrupted');
  for (const host of ['node1', 'node2']) {
    assert.deepEqual(result.leftBehind.find((h) => h.host === host), { host, why: 'stopped', done: ['one'], pending: [], handlers: ['one: restart app'] });
  }
});

test('a rolling handler stops between hosts: the restart under way ends, the next host is not restarted', async () => {
  const inv = makeInventory(hostNames(3));
  const fleet = new FakeFleet(hostNames(3));
  const controller = new AbortController();
  const ran: string[] = [];
  const restart: Handler = {
    name: 'restart api',
    rolling: true,
    async run(h) {
      ran.push(h.name);
      if (h.name === 'node1') controller.abort('SIGINT');
      await sleep(10);
    },
  };
  const roles: Role[] = [{ name: 'cp', handlers: [restart], tasks: () => [convergingTask('config', { notify: ['restart api'] })] }];
  const { of, result } = await runYaml('- name: cp\n  hosts: all\n  roles: [cp]\n', { inventory: inv, roles, fleet, signal: controller.signal });
  assert.deepEqual(ran, ['node1']);
  assert.deepEqual(of('handler:finish').map((e) => [e.host, e.status, e.reason ?? '']), [
    ['node1', 'changed', ''],
    ['node2', 'skipped', 'interrupted (SIGINT)'],
    ['node3', 'skipped', 'interrupted (SIGINT)'],
  ]);
  assert.deepEqual(result.leftBehind.map((h) => [h.host, h.handlers]), [['node2', ['cp: restart api']], ['node3', ['cp: restart api']]]);
});

test('a step still running when the grace runs out is abandoned; the run still finishes', async () => {
  const inv = makeInventory(hostNames(2));
  const fleet = new FakeFleet(hostNames(2));
  const controller = new AbortController();
  const hang: Task = {
    name: 'hangs',
    async check(h) {
      if (h.name === 'node1') {
        controller.abort('SIGTERM');
        await new Promise(() => undefined);
      }
      return [];
    },
    async apply() {},
  };
  const roles = [role('a', () => [hang, convergingTask('after')])];
  const started = performance.now();
  const { of, result } = await runYaml('- name: one\n  hosts: all\n  roles: [a]\n', { inventory: inv, roles, fleet, signal: controller.signal, graceMs: 50 });
  const took = performance.now() - started;
  assert.ok(took >= 45 && took < 1000, `bounded by the grace: ${took.toFixed(0)} ms`);
  assert.equal(result.status, 'interrupted');
  const node1 = of('task:finish').filter((e) => e.host === 'node1');
  assert.deepEqual(node1.map((e) => `${e.task}:${e.status}`), ['hangs:interrupted', 'after:skipped']);
  assert.match(node1[0]!.error!.message, /^abandoned: still running 0 s after the run was stopped/);
  assert.deepEqual(result.leftBehind.find((h) => h.host === 'node1')!.at, 'one: a: hangs (abandoned)');
  assert.deepEqual(of('task:finish').filter((e) => e.host === 'node2').map((e) => `${e.task}:${e.status}`), ['hangs:ok', 'after:skipped']);
});

test('a signal aborted before the run starts contacts no host', async () => {
  const inv = makeInventory(hostNames(2));
  const fleet = new FakeFleet(hostNames(2));
  const controller = new AbortController();
  controller.abort('SIGINT');
  const { of, result } = await runYaml('- name: one\n  hosts: all\n  roles: [a]\n', { inventory: inv, roles: [role('a', () => [convergingTask('t')])], fleet, signal: controller.signal });
  assert.equal(fleet.connects.size, 0);
  assert.deepEqual(of('play:skip').map((e) => e.reason), ['interrupted (SIGINT)']);
  assert.equal(result.status, 'interrupted');
  assert.deepEqual(result.leftBehind.map((h) => `${h.host} ${h.why} ${h.pending.join(',')}`), ['node1 stopped one', 'node2 stopped one']);
});
