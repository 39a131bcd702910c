/**
 * Partial failure (playbooks/README.md, "What happens when something fails"): a failed or
 * unreachable host drops out and the others go on; `any_errors_fatal` and `max_fail_percentage`
 * stop the playbook; the run names every host it left behind. The last tests run the shipped
 * playbooks/cluster.yml with stand-in roles of the same names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Handler, Role, Task } from '../../../src/engine/contract.js';
import { formatLeftBehind } from '../../../src/engine/render/format.js';
import { packageRoot } from '../../../src/paths.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { clusterInventory, commandTask, convergingTask, hostNames, makeInventory, role, runYaml } from './playbook-harness.js';

function failOn(fleet: FakeFleet, host: string, command = 'boom'): void {
  fleet.machine(host).script = (argv) => (argv[0] === command ? { code: 1, stdout: '', stderr: `${command} failed\n` } : undefined);
}

test('a failed host drops out of the rest of the run; the other hosts run every later play', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  failOn(fleet, 'node4');
  const roles = [
    role('a', () => [commandTask('may fail', ['node4'], ['boom']), convergingTask('a')]),
    role('b', () => [convergingTask('b')]),
    role('c', () => [convergingTask('c')]),
  ];
  const yaml = '- name: one\n  hosts: all\n  roles: [a]\n- name: two\n  hosts: all\n  roles: [b]\n- name: three\n  hosts: etcd\n  roles: [c]\n';
  const { of, result } = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.equal(result.status, 'failed');
  assert.deepEqual(of('play:skip'), [], 'no play is skipped');
  assert.deepEqual(of('play:start').map((e) => [e.play, e.hosts]), [
    ['one', ['node1', 'node2', 'node3', 'node4', 'node5']],
    ['two', ['node1', 'node2', 'node3', 'node5']],
    ['three', ['node1', 'node2', 'node3']],
  ]);
  assert.deepEqual(result.leftBehind, [
    { host: 'node4', why: 'failed', at: 'one: a: may fail', done: [], pending: ['one', 'two'], handlers: [] },
  ]);
  assert.deepEqual(result.recap.find((r) => r.host === 'node4'), { host: 'node4', ok: 0, changed: 0, failed: 1, unreachable: 0, skipped: 0 });
});

test('tasks see the play\'s hosts still in the run as ctx.playHosts', async () => {
  const inv = makeInventory(hostNames(3));
  const fleet = new FakeFleet(hostNames(3));
  failOn(fleet, 'node2');
  const seen = new Map<string, string[]>();
  const record: Task = {
    name: 'record',
    async check(_h, ctx) {
      seen.set(ctx.host.name, ctx.playHosts.map((h) => h.name));
      return [];
    },
    async apply() {},
  };
  const roles = [role('a', () => [commandTask('may fail', ['node2'], ['boom'])]), role('b', () => [record])];
  await runYaml('- name: one\n  hosts: all\n  roles: [a]\n- name: two\n  hosts: all\n  roles: [b]\n', { inventory: inv, roles, fleet });
  assert.deepEqual(Object.fromEntries(seen), { node1: ['node1', 'node3'], node3: ['node1', 'node3'] });
});

test('max_fail_percentage 0: a host that failed in an earlier play stops the play and every play after it', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  failOn(fleet, 'node2');
  const roles = [role('a', () => [commandTask('may fail', ['node2'], ['boom'])]), role('b', () => [convergingTask('b')]), role('c', () => [convergingTask('c')])];
  const yaml =
    '- name: runtime\n  hosts: all\n  roles: [a]\n' +
    '- name: etcd\n  hosts: etcd\n  max_fail_percentage: 0\n  roles: [b]\n' +
    '- name: nodes\n  hosts: all\n  roles: [c]\n';
  const { of, result } = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.deepEqual(of('play:skip').map((e) => [e.play, e.reason]), [
    ['etcd', 'play "runtime" failed on node2'],
    ['nodes', 'play "runtime" failed on node2'],
  ]);
  assert.equal(of('task:start').filter((e) => e.play !== 'runtime').length, 0);
  assert.deepEqual(
    result.leftBehind.map((h) => [h.host, h.why, h.pending.join(',')]),
    [
      ['node1', 'stopped', 'etcd,nodes'],
      ['node2', 'failed', 'runtime,etcd,nodes'],
      ['node3', 'stopped', 'etcd,nodes'],
      ['node4', 'stopped', 'nodes'],
      ['node5', 'stopped', 'nodes'],
    ],
  );
});

test('max_fail_percentage: more than the share fails, and only then, stops the playbook', async () => {
  const inv = makeInventory(hostNames(3));
  const roles = (failing: string[]) => [role('a', () => [commandTask('may fail', failing, ['boom'])]), role('b', () => [convergingTask('b')])];
  const yaml = (pct: number) => `- name: one\n  hosts: all\n  max_fail_percentage: ${pct}\n  roles: [a]\n- name: two\n  hosts: all\n  roles: [b]\n`;

  const one = new FakeFleet(hostNames(3));
  failOn(one, 'node1');
  const tolerated = await runYaml(yaml(34), { inventory: inv, roles: roles(['node1']), fleet: one });
  assert.deepEqual(tolerated.of('play:skip'), [], '1 of 3 (33 %) is within 34 %');
  assert.deepEqual(tolerated.of('play:start')[1]!.hosts, ['node2', 'node3']);

  const two = new FakeFleet(hostNames(3));
  failOn(two, 'node1');
  failOn(two, 'node2');
  const stopped = await runYaml(yaml(34), { inventory: inv, roles: roles(['node1', 'node2']), fleet: two });
  assert.deepEqual(stopped.of('play:skip').map((e) => e.play), ['two'], '2 of 3 is more than 34 %');
  assert.match(stopped.of('play:skip')[0]!.reason, /^play "one" failed on node[12], node[12] \(max_fail_percentage 34\)$/);
});

test('max_fail_percentage 0: a failure during the play stops its other hosts after their current task, and the playbook', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  failOn(fleet, 'node1');
  const roles = [
    role('etcd', () => [commandTask('health', ['node1'], ['boom']), convergingTask('slow', { delayMs: 30 }), convergingTask('next')]),
    role('cp', () => [convergingTask('cp')]),
  ];
  const yaml = '- name: etcd\n  hosts: etcd\n  max_fail_percentage: 0\n  roles: [etcd]\n- name: cp\n  hosts: etcd\n  roles: [cp]\n';
  const { of, result } = await runYaml(yaml, { inventory: inv, roles, fleet });
  for (const host of ['node2', 'node3']) {
    assert.deepEqual(of('task:finish').filter((e) => e.host === host).map((e) => `${e.task}:${e.status}`), ['health:ok', 'slow:changed', 'next:skipped'], host);
    assert.equal(of('task:finish').find((e) => e.host === host && e.task === 'next')!.reason, 'another host failed (max_fail_percentage 0)');
  }
  assert.deepEqual(of('play:skip').map((e) => [e.play, e.reason]), [['cp', 'play "etcd" failed on node1 (max_fail_percentage 0)']]);
  assert.deepEqual(result.leftBehind.map((h) => `${h.host} ${h.why} ${h.pending.join(',')}`), ['node1 failed etcd,cp', 'node2 stopped etcd,cp', 'node3 stopped etcd,cp']);
});

test('a rolling handler that fails in a play with max_fail_percentage 0 stops the playbook', async () => {
  const inv = makeInventory(hostNames(3));
  const fleet = new FakeFleet(hostNames(3));
  const restart: Handler = {
    name: 'restart api',
    rolling: true,
    async run(host) {
      if (host.name === 'node1') throw new Error('api did not come back');
    },
  };
  const roles: Role[] = [
    { name: 'cp', handlers: [restart], tasks: () => [convergingTask('config', { notify: ['restart api'] })] },
    role('after', () => [convergingTask('after')]),
  ];
  const yaml = '- name: cp\n  hosts: all\n  max_fail_percentage: 0\n  roles: [cp]\n- name: after\n  hosts: all\n  roles: [after]\n';
  const { of, result } = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.deepEqual(of('play:skip').map((e) => [e.play, e.reason]), [['after', 'play "cp" failed on node1 (max_fail_percentage 0)']]);
  const node2 = result.leftBehind.find((h) => h.host === 'node2')!;
  assert.deepEqual(node2, { host: 'node2', why: 'stopped', done: ['cp'], pending: ['after'], handlers: ['cp: restart api'] });
  assert.equal(result.leftBehind.find((h) => h.host === 'node1')!.at, 'cp: handler restart api');
});

test('the left-behind block names each host, what it did and what the next run does', () => {
  const lines = formatLeftBehind([
    { host: 'node4', why: 'unreachable', at: 'ssh: connect', done: [], pending: ['runtime', 'nodes'], handlers: [] },
    { host: 'node1', why: 'stopped', done: ['ssh', 'etcd'], pending: [], handlers: ['etcd: restart etcd'] },
  ]);
  assert.deepEqual(lines, [
    'LEFT FOR THE NEXT RUN (2 hosts)',
    'node4  unreachable at ssh: connect',
    '       done: nothing',
    '       not done: runtime, nodes',
    'node1  stopped',
    '       done: ssh, etcd',
    '       handlers not run: etcd: restart etcd',
  ]);
  assert.deepEqual(formatLeftBehind([]), []);
});

// The shipped playbook, with stand-in roles of the same names (each writes a marker file).
async function clusterYaml(): Promise<string> {
  return readFile(path.join(packageRoot, 'playbooks', 'cluster.yml'), 'utf8');
}
const CLUSTER_ROLES = ['ssh-keys', 'preinstall', 'kube-version', 'runtime', 'cni', 'static-pod-kubelet', 'etcd', 'control-plane', 'node', 'dns', 'verify'];
function clusterRoles(failing: Record<string, string[]>): Role[] {
  return CLUSTER_ROLES.map((name) => role(name, () => [commandTask(`${name} step`, failing[name] ?? [], ['boom']), convergingTask(`${name} state`)]));
}

test('cluster.yml: an unreachable worker drops out; etcd, the control plane and the other worker converge', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  fleet.unreachable.add('node5');
  const { of, result } = await runYaml(await clusterYaml(), { inventory: inv, roles: clusterRoles({}), fleet });
  assert.equal(result.status, 'failed', 'exit 1: a host was left behind');
  assert.deepEqual(of('play:skip'), []);
  for (const play of ['etcd', 'Kubelet for the static control plane', 'Control plane', 'Nodes', 'Cluster DNS (CoreDNS add-on)', 'Verify the cluster']) {
    const finished = of('play:finish').find((e) => e.play === play);
    assert.equal(finished?.status, 'changed', play);
  }
  assert.deepEqual(of('play:start').find((e) => e.play === 'Nodes')!.hosts, ['node1', 'node2', 'node3', 'node4']);
  assert.deepEqual(result.leftBehind.map((h) => [h.host, h.why, h.at]), [['node5', 'unreachable', 'Distribute the cluster SSH key: connect']]);
  assert.deepEqual(result.leftBehind[0]!.pending, ['Distribute the cluster SSH key', 'Facts and preflight checks', 'Container runtime', 'Pod network (CNI)', 'Nodes', 'Verify the cluster']);
});

test('cluster.yml: an etcd host failing before the etcd play stops etcd, the control plane and every play after', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  failOn(fleet, 'node3');
  const { of, result } = await runYaml(await clusterYaml(), { inventory: inv, roles: clusterRoles({ runtime: ['node3'] }), fleet });
  assert.deepEqual(of('play:start').map((e) => e.play), ['Distribute the cluster SSH key', 'Facts and preflight checks', 'Container runtime', 'Pod network (CNI)']);
  assert.deepEqual(of('play:skip').map((e) => [e.play, e.reason]), ['Kubelet for the static control plane', 'etcd', 'Control plane', 'Nodes', 'Cluster DNS (CoreDNS add-on)', 'Verify the cluster'].map((p) => [p, 'play "Container runtime" failed on node3']));
  assert.deepEqual(result.leftBehind.map((h) => h.host), hostNames(5), 'every host is left behind');
});

test('cluster.yml: a worker failing preflight stops the run before anything changes', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  failOn(fleet, 'node4');
  const roles = clusterRoles({ preinstall: ['node4'] });
  const { of } = await runYaml(await clusterYaml(), { inventory: inv, roles, fleet });
  assert.deepEqual(of('play:skip').map((e) => e.play)[0], 'Container runtime');
  assert.match(of('play:skip')[0]!.reason, /^play "Facts and preflight checks" failed on node4 \(any_errors_fatal\)$/);
});

test('ignore_unreachable: an unreachable host of that play is skipped with a warning, not a failure; the run goes on', async () => {
  const inv = clusterInventory(2);
  const fleet = new FakeFleet(hostNames(5));
  fleet.unreachable.add('node5');
  const roles = [role('a', () => [convergingTask('a')]), role('b', () => [convergingTask('b')])];
  const yaml = '- name: dead ones\n  hosts: node4:node5\n  ignore_unreachable: true\n  roles: [a]\n- name: the rest\n  hosts: node1\n  roles: [b]\n';
  const { of, result } = await runYaml(yaml, { inventory: inv, roles, fleet });
  assert.equal(result.status, 'ok');
  const finished = of('host:finish').find((e) => e.host === 'node5')!;
  assert.equal(finished.status, 'skipped');
  assert.match(of('warning').map((w) => w.message).join('\n'), /node5 is unreachable \(.*\); the play's steps on it were skipped \(ignore_unreachable\)/);
  assert.equal(of('play:finish').find((e) => e.play === 'the rest')?.status, 'changed');
  assert.deepEqual(result.leftBehind, []);
});
