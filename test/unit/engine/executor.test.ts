import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatFailure } from '../../../src/engine/errors.js';
import type { Handler, Role, Task } from '../../../src/engine/contract.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { clusterInventory, commandTask, convergingTask, fakeFacts, hostNames, makeInventory, role, runYaml } from './playbook-harness.js';

const twoPlays = `
- name: first
  hosts: all
  roles: [a]
- name: second
  hosts: etcd
  roles: [b]
`;

test('plays run in order; each host runs its tasks in order', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  const roles = [
    role('a', () => [convergingTask('a1', { delayMs: 2 }), convergingTask('a2')]),
    role('b', () => [convergingTask('b1'), convergingTask('b2')]),
  ];
  const { events, of, result } = await runYaml(twoPlays, { inventory: inv, roles, fleet });
  assert.equal(result.status, 'ok');
  for (const host of hostNames(5)) {
    const order = of('task:start').filter((e) => e.host === host).map((e) => `${e.play}/${e.role}: ${e.task}`);
    const expected = ['first/a: a1', 'first/a: a2', ...(['node1', 'node2', 'node3'].includes(host) ? ['second/b: b1', 'second/b: b2'] : [])];
    assert.deepEqual(order, expected, host);
  }
  const secondStart = events.findIndex((e) => e.type === 'play:start' && e.play === 'second');
  const lastFirst = events.findLastIndex((e) => 'play' in e && e.play === 'first');
  assert.ok(lastFirst < secondStart, 'every event of play 1 comes before play 2 starts');
  assert.equal(events[0]!.type, 'run:start');
  assert.equal(events.at(-1)!.type, 'run:finish');
  for (const e of events) assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('hosts run in parallel, never more than --concurrency at once', async () => {
  const names = hostNames(12);
  const inv = makeInventory(names);
  const roles = [role('a', () => [convergingTask('slow1'), convergingTask('slow2')])];
  const yaml = '- name: p\n  hosts: all\n  roles: [a]\n';

  const limited = new FakeFleet(names);
  for (const m of limited.machines.values()) m.latencyMs = 15;
  const started = performance.now();
  const r1 = await runYaml(yaml, { inventory: inv, roles, fleet: limited, concurrency: 3 });
  const limitedMs = performance.now() - started;
  assert.equal(r1.result.status, 'ok');
  assert.equal(limited.maxInFlight, 3, 'the bound is reached and respected');

  const wide = new FakeFleet(names);
  for (const m of wide.machines.values()) m.latencyMs = 15;
  const started2 = performance.now();
  await runYaml(yaml, { inventory: inv, roles, fleet: wide });
  const wideMs = performance.now() - started2;
  assert.equal(wide.maxInFlight, 12, 'with the default of 20 all 12 hosts work at once');
  assert.ok(wideMs < limitedMs, `parallel run (${wideMs.toFixed(0)} ms) is faster than 3 at a time (${limitedMs.toFixed(0)} ms)`);
});

test('one connection per host for the whole run, closed at the end', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  const roles = [role('a', () => [convergingTask('x'), convergingTask('y')]), role('b', () => [convergingTask('z')])];
  const yaml = `${twoPlays}- name: third\n  hosts: all\n  roles: [a, b]\n`;
  const { result } = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.equal(result.status, 'ok');
  assert.deepEqual([...fleet.connects.values()], [1, 1, 1, 1, 1]);
  assert.equal(fleet.opened.length, 5);
  assert.ok(fleet.opened.every((h) => h.closed), 'every connection is closed after the run');
});

function scriptFailure(fleet: FakeFleet, host: string): void {
  fleet.machine(host).script = (argv) => {
    if (argv[0] !== 'etcdctl') return undefined;
    const stderr = Array.from({ length: 20 }, (_, i) => `log line ${i + 1}`).join('\n');
    return { code: 4, stdout: 'partial\n', stderr: `${stderr}\nError: context deadline exceeded\n` };
  };
}

test('a failing host is named with command, exit code and last output; others finish; the playbook stops after that play', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  scriptFailure(fleet, 'node2');
  const roles = [
    role('a', () => [convergingTask('before'), commandTask('check etcd health', ['node2'], ['etcdctl', 'endpoint', 'health']), convergingTask('after')]),
    role('b', () => [convergingTask('never')]),
  ];
  // The second play needs every one of its hosts: node2's failure in the first stops it.
  const yaml = `${twoPlays}  max_fail_percentage: 0\n`;
  const { of, result } = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.equal(result.status, 'failed');

  const failed = of('host:finish').find((e) => e.host === 'node2')!;
  assert.equal(failed.status, 'failed');
  assert.equal(failed.step, 'a: check etcd health');
  assert.equal(failed.error?.command, 'etcdctl endpoint health');
  assert.equal(failed.error?.exitCode, 4);
  assert.equal(failed.error?.output?.at(-1), 'Error: context deadline exceeded');
  assert.equal(failed.error?.output?.length, 12, 'only the last lines are kept');
  const text = formatFailure(failed.host, failed.step!, failed.error!);
  assert.match(text, /^node2: a: check etcd health: command `etcdctl endpoint health` exited with 4/);
  assert.match(text, /\| Error: context deadline exceeded$/);

  // The other hosts ran every task of the play.
  for (const h of ['node1', 'node3', 'node4', 'node5']) {
    assert.deepEqual(of('task:finish').filter((e) => e.host === h).map((e) => e.task), ['before', 'check etcd health', 'after'], h);
    assert.equal(of('host:finish').find((e) => e.host === h)!.status, 'changed');
  }
  assert.ok(!of('task:start').some((e) => e.host === 'node2' && e.task === 'after'), 'the failed host stops at its failure');
  const skip = of('play:skip');
  assert.deepEqual(skip.map((e) => [e.play, e.reason]), [['second', 'play "first" failed on node2']]);
  assert.equal(of('play:finish')[0]!.status, 'failed');
  const recap = result.recap.find((r) => r.host === 'node2')!;
  assert.deepEqual(recap, { host: 'node2', ok: 0, changed: 1, failed: 1, unreachable: 0, skipped: 0 });
});

test('an unreachable host is reported as such and the others go on', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  fleet.unreachable.add('node4');
  const roles = [role('a', () => [convergingTask('t')]), role('b', () => [convergingTask('u')])];
  // The second play needs every one of its hosts, node4 among them.
  const yaml = twoPlays.replace('hosts: etcd', 'hosts: etcd:node4\n  max_fail_percentage: 0');
  const { of, result } = await runYaml(yaml, { inventory: inv, roles, fleet });
  const node4 = of('host:finish').find((e) => e.host === 'node4')!;
  assert.equal(node4.status, 'unreachable');
  assert.equal(node4.step, 'connect');
  assert.match(node4.error!.message, /connect to 10\.99\.0\.4:22 timed out/);
  assert.equal(of('task:finish').find((e) => e.host === 'node4')!.status, 'unreachable');
  assert.equal(of('host:finish').filter((e) => e.status === 'changed').length, 4);
  assert.equal(result.recap.find((r) => r.host === 'node4')!.unreachable, 1);
  assert.equal(result.status, 'failed');
  assert.equal(of('play:skip').length, 1, 'an unreachable host stops the playbook after the play, like a failure');
  assert.equal(fleet.connects.get('node4'), 1);
});

function restartRecorder(name: string, opts: { rolling?: boolean; runMs?: number; healthMs?: number; failOn?: string } = {}) {
  const log: { host: string; phase: 'run' | 'healthy'; start: number; end: number }[] = [];
  const handler: Handler = {
    name,
    ...(opts.rolling ? { rolling: true } : {}),
    async run(host) {
      const start = performance.now();
      await sleep(opts.runMs ?? 10);
      if (host.name === opts.failOn) await host.run(['systemctl', 'restart', '--', 'broken.service']);
      log.push({ host: host.name, phase: 'run', start, end: performance.now() });
    },
    async waitHealthy(host) {
      const start = performance.now();
      await sleep(opts.healthMs ?? 10);
      log.push({ host: host.name, phase: 'healthy', start, end: performance.now() });
    },
  };
  return { handler, log };
}

test('handlers run at the end of the play, only on hosts where a notifying task changed something', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  const { handler, log } = restartRecorder('restart app');
  const content: Record<string, string> = {};
  const roles: Role[] = [
    {
      name: 'app',
      handlers: [handler],
      tasks: (ctx) => [
        {
          name: 'config',
          notify: ['restart app'],
          async check(host) {
            const want = content[ctx.host.name] ?? 'v1';
            const have = (await host.readFile('/etc/app.conf'))?.toString();
            return have === want ? [] : [{ kind: 'file', summary: 'update /etc/app.conf', path: '/etc/app.conf' }];
          },
          async apply(host) {
            await host.writeFile('/etc/app.conf', content[ctx.host.name] ?? 'v1', { mode: 0o644 });
          },
        },
        convergingTask('unrelated'),
      ],
    },
  ];
  const yaml = '- name: p\n  hosts: all\n  roles: [app]\n';
  const first = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.deepEqual(log.filter((l) => l.phase === 'run').map((l) => l.host).sort(), hostNames(5));
  const lastTask = first.events.findLastIndex((e) => e.type === 'task:finish');
  const firstHandler = first.events.findIndex((e) => e.type === 'handler:start');
  assert.ok(lastTask < firstHandler, 'handlers wait for every host to finish its tasks');
  assert.deepEqual(first.of('handlers:start')[0]!.runs, [{ handler: 'restart app', role: 'app', hosts: hostNames(5), rolling: false }]);

  log.length = 0;
  content['node2'] = 'v2';
  const second = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.deepEqual(log.filter((l) => l.phase === 'run').map((l) => l.host), ['node2']);
  assert.equal(second.result.recap.find((r) => r.host === 'node2')!.changed, 2, 'the task and the handler');

  log.length = 0;
  const third = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.deepEqual(log, []);
  assert.equal(third.of('handlers:start').length, 0);
});

test('a rolling handler restarts one host at a time, each healthy before the next; a plain one runs in parallel', async () => {
  const inv = clusterInventory(0);
  const fleet = new FakeFleet(hostNames(3));
  const rolling = restartRecorder('restart apiserver', { rolling: true, runMs: 15, healthMs: 15 });
  const parallel = restartRecorder('restart kubelet', { runMs: 40, healthMs: 1 });
  const roles: Role[] = [
    {
      name: 'cp',
      handlers: [rolling.handler, parallel.handler],
      tasks: () => [convergingTask('config', { notify: ['restart apiserver', 'restart kubelet'] })],
    },
  ];
  const { of } = await runYaml('- name: p\n  hosts: kube_control_plane\n  roles: [cp]\n', { inventory: inv, roles, fleet });
  const spans = rolling.log.sort((a, b) => a.start - b.start);
  assert.deepEqual(spans.map((s) => `${s.host}:${s.phase}`), ['node1:run', 'node1:healthy', 'node2:run', 'node2:healthy', 'node3:run', 'node3:healthy']);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i]!.start >= spans[i - 1]!.end, 'no overlap between consecutive steps');
  const kubelet = parallel.log.filter((l) => l.phase === 'run');
  const overlap = kubelet.some((a) => kubelet.some((b) => a !== b && a.start < b.end && b.start < a.end));
  assert.ok(overlap, 'a non-rolling handler runs on its hosts at the same time');
  assert.deepEqual(of('handlers:start')[0]!.runs.map((r) => [r.handler, r.rolling]), [['restart apiserver', true], ['restart kubelet', false]]);
});

test('a rolling handler that fails on one host stops before the next', async () => {
  const inv = clusterInventory(0);
  const fleet = new FakeFleet(hostNames(3));
  const rolling = restartRecorder('restart apiserver', { rolling: true, runMs: 1, healthMs: 1, failOn: 'node2' });
  const roles: Role[] = [{ name: 'cp', handlers: [rolling.handler], tasks: () => [convergingTask('config', { notify: ['restart apiserver'] })] }];
  const { of, result } = await runYaml('- name: p\n  hosts: kube_control_plane\n  roles: [cp]\n', { inventory: inv, roles, fleet });
  const finishes = of('handler:finish').map((e) => [e.host, e.status]);
  assert.deepEqual(finishes, [['node1', 'changed'], ['node2', 'failed'], ['node3', 'skipped']]);
  assert.match(of('handler:finish')[2]!.reason!, /stopped after it failed on node2/);
  assert.equal(of('handler:finish')[1]!.error!.exitCode, 5);
  assert.equal(result.status, 'failed');
});

test('tags and skip-tags select at play, role and task level; unselected plays connect to nothing', async () => {
  const inv = clusterInventory(2);
  const yaml = `
- name: keys
  hosts: all
  tags: [ssh-keys]
  roles: [keys]
- name: etcd
  hosts: etcd
  roles:
    - role: etcd
      tags: [etcd]
- name: nodes
  hosts: kube_node
  roles: [node]
`;
  const roles = [
    role('keys', () => [convergingTask('authorize key')]),
    role('etcd', () => [convergingTask('etcd unit'), convergingTask('etcd certs', { tags: ['certs'] })], { taskTags: ['certs'] }),
    role('node', () => [convergingTask('kubelet'), convergingTask('node certs', { tags: ['certs'] })], { tags: ['node'], taskTags: ['certs'] }),
  ];
  const ran = async (tags: string[], skipTags: string[] = []) => {
    const fleet = new FakeFleet(hostNames(5));
    const r = await runYaml(yaml, { inventory: inv, roles, fleet, tags, skipTags });
    return { tasks: [...new Set(r.of('task:finish').map((e) => e.task))], fleet };
  };
  const keysOnly = await ran(['ssh-keys']);
  assert.deepEqual(keysOnly.tasks, ['authorize key']);
  assert.deepEqual(await ran(['certs']).then((r) => r.tasks), ['etcd certs', 'node certs']);
  assert.deepEqual(await ran(['etcd']).then((r) => r.tasks), ['etcd unit', 'etcd certs']);
  assert.deepEqual(await ran(['node', 'ssh-keys']).then((r) => r.tasks), ['authorize key', 'kubelet', 'node certs']);
  assert.deepEqual(await ran([], ['certs', 'ssh-keys']).then((r) => r.tasks), ['etcd unit', 'kubelet']);

  const fleet = new FakeFleet(hostNames(5));
  const r = await runYaml(yaml, { inventory: inv, roles, fleet, tags: ['etcd'] });
  assert.deepEqual([...fleet.connects.keys()].sort(), ['node1', 'node2', 'node3'], 'hosts with no selected task are never connected');
  assert.deepEqual(r.of('host:tasks').filter((e) => e.play === 'nodes').map((e) => e.tasks.length), [0, 0, 0, 0, 0]);
});

test('a task tag its role does not declare fails the host, since --tags could not have selected it', async () => {
  const inv = makeInventory(['node1']);
  const fleet = new FakeFleet(['node1']);
  const roles = [role('r', () => [convergingTask('t', { tags: ['secret-tag'] })])];
  const r = await runYaml('- name: p\n  hosts: all\n  roles: [r]\n', { inventory: inv, roles, fleet });
  assert.equal(r.result.status, 'failed');
  assert.match(JSON.stringify(r.events), /task \\"t\\" carries tag \\"secret-tag\\", which role \\"r\\" does not declare in taskTags/);
});

test('serial plays go batch by batch with handlers after each batch, and stop at a failed batch', async () => {
  const inv = makeInventory(hostNames(5));
  const fleet = new FakeFleet(hostNames(5));
  const { handler, log } = restartRecorder('restart', { runMs: 1, healthMs: 1 });
  const roles: Role[] = [{ name: 'r', handlers: [handler], tasks: () => [convergingTask('t', { notify: ['restart'] })] }];
  const { events } = await runYaml('- name: p\n  hosts: all\n  serial: 2\n  roles: [r]\n', { inventory: inv, roles, fleet });
  const order = events.flatMap((e) => (e.type === 'host:start' ? [`start ${e.host}`] : e.type === 'handler:start' ? [`restart ${e.host}`] : []));
  assert.deepEqual(order, [
    'start node1', 'start node2', 'restart node1', 'restart node2',
    'start node3', 'start node4', 'restart node3', 'restart node4',
    'start node5', 'restart node5',
  ]);
  assert.equal(log.length, 10);
  assert.equal(events.find((e) => e.type === 'play:start' && e.serial === 2)?.type, 'play:start');

  const fleet2 = new FakeFleet(hostNames(5));
  scriptFailure(fleet2, 'node2');
  const roles2 = [role('r', () => [commandTask('health', ['node2'], ['etcdctl', 'endpoint', 'health']), convergingTask('t')])];
  const r2 = await runYaml('- name: p\n  hosts: all\n  serial: "40%"\n  roles: [r]\n', { inventory: inv, roles: roles2, fleet: fleet2 });
  assert.deepEqual(r2.of('host:finish').map((e) => [e.host, e.status]).sort(), [
    ['node1', 'changed'], ['node2', 'failed'], ['node3', 'skipped'], ['node4', 'skipped'], ['node5', 'skipped'],
  ]);
  assert.deepEqual([...fleet2.connects.keys()].sort(), ['node1', 'node2'], 'later batches never start');
});

test('any_errors_fatal stops every host of the play after its current task', async () => {
  const inv = makeInventory(hostNames(3));
  const fleet = new FakeFleet(hostNames(3));
  scriptFailure(fleet, 'node1');
  const roles = [role('r', () => [commandTask('health', ['node1'], ['etcdctl', 'endpoint', 'health']), convergingTask('slow', { delayMs: 30 }), convergingTask('next')])];
  const { of, result } = await runYaml('- name: p\n  hosts: all\n  any_errors_fatal: true\n  roles: [r]\n', { inventory: inv, roles, fleet });
  for (const host of ['node2', 'node3']) {
    const tasks = of('task:finish').filter((e) => e.host === host).map((e) => `${e.task}:${e.status}`);
    assert.deepEqual(tasks, ['health:ok', 'slow:changed', 'next:skipped'], host);
    assert.equal(result.recap.find((r) => r.host === host)!.skipped, 1);
  }
  assert.equal(result.status, 'failed');
});

test('facts are read on first use, once per host for the whole run; gather_facts reads them up front', async () => {
  const inv = makeInventory(hostNames(2));
  const fleet = new FakeFleet(hostNames(2));
  const gathered: string[] = [];
  const seen: string[] = [];
  const factsTask: Task = {
    name: 'use facts',
    async check(_host, ctx) {
      seen.push(`${ctx.host.name}:${(await ctx.facts()).memoryMb}:${(await ctx.facts()).hostname}`);
      return [];
    },
    async apply() {},
  };
  const roles = [role('f', () => [factsTask]), role('g', () => [convergingTask('t')])];
  const yaml = '- name: one\n  hosts: all\n  gather_facts: true\n  roles: [g]\n- name: two\n  hosts: all\n  roles: [f, f]\n';
  const { result } = await runYaml(yaml, {
    inventory: inv,
    roles,
    fleet,
    gatherFacts: async (h) => {
      gathered.push(h.name);
      return fakeFacts(h);
    },
  });
  assert.equal(result.status, 'ok');
  assert.deepEqual(gathered.sort(), ['node1', 'node2']);
  assert.deepEqual(seen.sort(), ['node1:2048:node1', 'node1:2048:node1', 'node2:2048:node2', 'node2:2048:node2']);
});

test('a role prepares once per play before any host; a failed prepare fails the play', async () => {
  const inv = makeInventory(hostNames(3));
  let prepared = 0;
  const run: { stamp?: string } = {};
  const roles: Role<{ stamp?: string }>[] = [
    {
      name: 'pki',
      async prepare(ctx) {
        prepared += 1;
        assert.equal(ctx.hosts.length, 3);
        ctx.run.stamp = 'issued';
      },
      tasks: (ctx) => [
        {
          name: 'read the run context',
          async check() {
            assert.equal(ctx.run.stamp, 'issued');
            return [];
          },
          async apply() {},
        },
      ],
    },
  ];
  const ok = await runYaml('- name: p\n  hosts: all\n  roles: [pki]\n', { inventory: inv, roles, fleet: new FakeFleet(hostNames(3)), run });
  assert.equal(ok.result.status, 'ok');
  assert.equal(prepared, 1);

  const broken: Role[] = [{ name: 'pki', prepare: async () => Promise.reject(new Error('CA key is unreadable')), tasks: () => [convergingTask('x')] }];
  const fleet = new FakeFleet(hostNames(3));
  const bad = await runYaml('- name: p\n  hosts: all\n  roles: [pki]\n', { inventory: inv, roles: broken, fleet });
  assert.equal(bad.result.status, 'failed');
  assert.equal(bad.of('play:finish')[0]!.error!.message, 'CA key is unreadable');
  assert.deepEqual(bad.of('host:finish').map((e) => e.step), ['pki: prepare', 'pki: prepare', 'pki: prepare']);
  assert.equal(fleet.connects.size, 0, 'no host is touched');
});

test('a task notifying a handler no role declares fails its host with a clear message', async () => {
  const inv = makeInventory(['a']);
  const roles = [role('r', () => [convergingTask('t', { notify: ['restart nothing'] })])];
  const { of } = await runYaml('- name: p\n  hosts: all\n  roles: [r]\n', { inventory: inv, roles, fleet: new FakeFleet(['a']) });
  const e = of('host:finish')[0]!;
  assert.equal(e.status, 'failed');
  assert.equal(e.step, 'r: list tasks');
  assert.match(e.error!.message, /notifies "restart nothing", which no role of play "p" declares/);
});

test('a handler notified on a host that then failed is reported as not run', async () => {
  const inv = makeInventory(['a']);
  const fleet = new FakeFleet(['a']);
  scriptFailure(fleet, 'a');
  const { handler, log } = restartRecorder('restart x');
  const roles: Role[] = [
    { name: 'r', handlers: [handler], tasks: () => [convergingTask('conf', { notify: ['restart x'] }), commandTask('health', ['a'], ['etcdctl', 'endpoint', 'health'])] },
  ];
  const { of } = await runYaml('- name: p\n  hosts: all\n  roles: [r]\n', { inventory: inv, roles, fleet });
  assert.equal(log.length, 0);
  assert.match(of('warning')[0]!.message, /handler "restart x" was notified but did not run because the host failed/);
});

test('the recap counts ok, changed, failed, unreachable and skipped per host', async () => {
  const inv = makeInventory(hostNames(3));
  const fleet = new FakeFleet(hostNames(3));
  fleet.unreachable.add('node3');
  scriptFailure(fleet, 'node2');
  const roles = [role('r', () => [convergingTask('c1'), commandTask('ok-or-fail', ['node2'], ['etcdctl', 'endpoint', 'health']), convergingTask('c2')])];
  const { result, of } = await runYaml('- name: p\n  hosts: all\n  roles: [r]\n', { inventory: inv, roles, fleet });
  assert.deepEqual(result.recap, [
    { host: 'node1', ok: 1, changed: 2, failed: 0, unreachable: 0, skipped: 0 },
    { host: 'node2', ok: 0, changed: 1, failed: 1, unreachable: 0, skipped: 0 },
    { host: 'node3', ok: 0, changed: 0, failed: 0, unreachable: 1, skipped: 0 },
  ]);
  assert.deepEqual(of('run:finish')[0]!.recap, result.recap);
});

test('every event carries the run id: the given one, else a new one per run', async () => {
  const inv = makeInventory(hostNames(2));
  const roles = [role('a', () => [convergingTask('t')])];
  const yaml = '- name: p\n  hosts: all\n  roles: [a]\n';
  const given = await runYaml(yaml, { inventory: inv, roles, fleet: new FakeFleet(hostNames(2)), runId: '0badc0de' });
  assert.ok(given.events.length > 5);
  assert.ok(given.events.every((e) => e.runId === '0badc0de'));
  const a = await runYaml(yaml, { inventory: inv, roles, fleet: new FakeFleet(hostNames(2)) });
  const b = await runYaml(yaml, { inventory: inv, roles, fleet: new FakeFleet(hostNames(2)) });
  assert.match(a.events[0]!.runId, /^[0-9a-f]{8}$/);
  assert.ok(a.events.every((e) => e.runId === a.events[0]!.runId));
  assert.notEqual(a.events[0]!.runId, b.events[0]!.runId);
});
