import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hostsPattern, planRun, resolveSerial } from '../../../src/engine/run-plan.js';
import { loadPlaybook, parsePlaybook, resolvePlaybookPath } from '../../../src/engine/playbook.js';
import { RoleRegistry } from '../../../src/engine/role-registry.js';
import { KprovError } from '../../../src/errors.js';
import { packageRoot } from '../../../src/paths.js';
import { clusterInventory, convergingTask, role } from './playbook-harness.js';

const valid = `# the cluster
- name: Distribute SSH keys
  hosts: all
  gather_facts: false
  tags: ssh-keys
  roles:
    - ssh-keys

- name: Control plane
  hosts: kube_control_plane
  serial: 1
  any_errors_fatal: true
  gather_facts: true
  roles:
    - role: control-plane
      tags: [control-plane, master]
- name: Nodes
  hosts: [kube_node, "!kube_control_plane"]
  serial: "50%"
  roles: [node]
`;

test('a valid playbook parses into ordered plays with locations', () => {
  const pb = parsePlaybook(valid, 'cluster.yml');
  assert.deepEqual(pb.plays.map((p) => p.name), ['Distribute SSH keys', 'Control plane', 'Nodes']);
  const [keys, cp, nodes] = pb.plays;
  assert.deepEqual(keys!.tags, ['ssh-keys']);
  assert.equal(keys!.gatherFacts, false);
  assert.deepEqual(keys!.location, { file: 'cluster.yml', line: 2, column: 3 });
  assert.deepEqual(keys!.hostsLocation, { file: 'cluster.yml', line: 3, column: 10 });
  assert.deepEqual(cp!.serial, { count: 1 });
  assert.equal(cp!.anyErrorsFatal, true);
  assert.deepEqual(cp!.roles, [{ name: 'control-plane', tags: ['control-plane', 'master'], location: { file: 'cluster.yml', line: 15, column: 7 } }]);
  assert.equal(nodes!.hosts, 'kube_node:!kube_control_plane', 'a list of patterns is their union/operators joined');
  assert.deepEqual(nodes!.serial, { percent: 50 });
  assert.equal(nodes!.gatherFacts, false);
});

function expectError(text: string, message: RegExp, line: number | undefined, column?: number): void {
  assert.throws(
    () => parsePlaybook(text, 'pb.yml'),
    (err: unknown) => {
      assert.ok(err instanceof KprovError, String(err));
      assert.match(err.message, message);
      assert.equal(err.location?.file, 'pb.yml');
      assert.equal(err.location?.line, line, `line for ${message}: ${err.message}`);
      if (column !== undefined) assert.equal(err.location?.column, column);
      assert.equal(err.exitCode, 2);
      return true;
    },
  );
}

test('validation errors name the file, line and column of the offending value', () => {
  expectError('- name: a\n  hosts: all\n  roles: [x]\n  forks: 5\n', /unknown key "forks" in play 1/, 4, 3);
  expectError('- name: a\n  hosts: all\n  roles: [x]\n- name: b\n  hosts: 5\n  roles: [y]\n', /play 2 hosts: expected string/, 5, 10);
  expectError('- name: a\n  hosts: all\n', /play 1.*roles.*expected array/, 1);
  expectError('- name: a\n  hosts: all\n  roles: []\n', /play 1 roles: .*>=1|too small|at least/i, 3);
  expectError('- name: a\n  hosts: all\n  roles:\n    - role: etcd\n      tags: 3\n', /roles\[0\]\.tags/, 5);
  expectError('- name: a\n  hosts: all\n  roles:\n    - Etcd\n', /role name is lower-case/, 4);
  expectError('- name: a\n  hosts: all\n  serial: "x%"\n  roles: [x]\n', /serial/, 3);
  expectError('- name: a\n  hosts: all\n  serial: 0\n  roles: [x]\n', /serial/, 3);
  expectError('- name: a\n  hosts: all\n  tags: "bad tag!"\n  roles: [x]\n', /tag is letters/, 3);
  expectError('- name: a\n  hosts: all\n  gather_facts: maybe\n  roles: [x]\n', /gather_facts: expected boolean/, 3);
  expectError('name: a\nhosts: all\n', /expected array/, 1);
  expectError('- name: a\n  hosts: all\n  roles: [x]\n- name: a\n  hosts: all\n  roles: [y]\n', /play name "a" is used twice/, 4);
  expectError('', /playbook is empty/, undefined);
});

test('YAML syntax errors carry their position', () => {
  expectError('- name: a\n  hosts: [all\n  roles: [x]\n', /YAML syntax error/, 3);
  expectError('- name: a\n  name: b\n  hosts: all\n  roles: [x]\n', /YAML syntax error.*[Mm]ap keys must be unique/, 2);
});

test('plan: unknown roles and host patterns are errors at their playbook line', () => {
  const inv = clusterInventory(1);
  const roles = new RoleRegistry([role('etcd', () => [convergingTask('t')])]);
  const pb = parsePlaybook('- name: a\n  hosts: etcd\n  roles:\n    - etcd\n    - etcdd\n', 'pb.yml');
  assert.throws(
    () => planRun(pb, inv, roles),
    (err: KprovError) => /unknown role "etcdd" in play "a"/.test(err.message) && err.location?.line === 5 && /known roles: etcd/.test(err.hint ?? ''),
  );
  const badHosts = parsePlaybook('- name: a\n  hosts: etcd:!kube_masterz\n  roles: [etcd]\n', 'pb.yml');
  assert.throws(
    () => planRun(badHosts, inv, roles),
    (err: KprovError) => /no group or host named "kube_masterz"/.test(err.message) && err.location?.line === 2 && err.location.column === 10,
  );
});

test('plan: --limit narrows every play and must match something', () => {
  const inv = clusterInventory(2);
  const roles = new RoleRegistry([role('x', () => [])]);
  const pb = parsePlaybook('- name: a\n  hosts: etcd\n  roles: [x]\n- name: b\n  hosts: kube_node:!etcd\n  roles: [x]\n', 'pb.yml');
  const plan = planRun(pb, inv, roles, { limit: 'node1:node5' });
  assert.deepEqual(plan.plays.map((p) => p.hosts.map((h) => h.name)), [['node1'], ['node5']]);
  assert.deepEqual(plan.hosts.map((h) => h.name), ['node1', 'node5']);
  assert.throws(() => planRun(pb, inv, roles, { limit: 'nosuch' }), /--limit "nosuch": no group or host named "nosuch"/);
  assert.throws(() => planRun(pb, inv, roles, { limit: 'etcd:&kube_node:!all' }), /--limit .* matches no host/);
});

test('beyond_limit: the play hosts it selects run the play whatever --limit says; others keep the limit', () => {
  const inv = clusterInventory(2);
  const roles = new RoleRegistry([role('x', () => [])]);
  const yaml = '- name: new node\n  hosts: k8s_cluster\n  roles: [x]\n- name: routes\n  hosts: kube_node\n  beyond_limit: kube_node:!node2\n  roles: [x]\n';
  const pb = parsePlaybook(yaml, 'pb.yml');
  assert.equal(pb.plays[1]!.beyondLimit, 'kube_node:!node2');
  assert.deepEqual(pb.plays[1]!.beyondLimitLocation, { file: 'pb.yml', line: 6, column: 17 });
  const limited = planRun(pb, inv, roles, { limit: 'node5' });
  assert.deepEqual(limited.plays.map((p) => p.hosts.map((h) => h.name)), [['node5'], ['node1', 'node3', 'node4', 'node5']]);
  assert.deepEqual(limited.hosts.map((h) => h.name), ['node1', 'node3', 'node4', 'node5'], 'the run targets (locks, connects) them too');
  // Without --limit it changes nothing; it never adds hosts the play's own pattern leaves out.
  assert.deepEqual(planRun(pb, inv, roles).plays[1]!.hosts.length, 5);
  const narrower = parsePlaybook('- name: a\n  hosts: etcd\n  beyond_limit: all\n  roles: [x]\n', 'pb.yml');
  assert.deepEqual(planRun(narrower, inv, roles, { limit: 'node5' }).plays[0]!.hosts.map((h) => h.name), ['node1', 'node2', 'node3']);
  // A name the inventory does not know is bad input at its line, with or without --limit.
  const typo = parsePlaybook('- name: a\n  hosts: all\n  beyond_limit: kube_nodes\n  roles: [x]\n', 'pb.yml');
  assert.throws(() => planRun(typo, inv, roles), (err: unknown) => err instanceof KprovError && /beyond_limit "kube_nodes": no group or host named "kube_nodes"/.test(err.message) && err.location?.line === 3);
});

test('plan: two roles of a play must not declare the same handler', () => {
  const h = { name: 'restart x', run: async () => undefined };
  const roles = new RoleRegistry([role('a', () => [], { handlers: [h] }), role('b', () => [], { handlers: [h] })]);
  const pb = parsePlaybook('- name: p\n  hosts: all\n  roles: [a, b]\n', 'pb.yml');
  assert.throws(() => planRun(pb, clusterInventory(0), roles), /handler "restart x" is declared by roles "a" and "b"/);
});

test('playbook names resolve in playbooks/, paths relative to the working directory', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-pb-'));
  await writeFile(path.join(dir, 'cluster.yml'), valid);
  await writeFile(path.join(dir, 'reset.yaml'), valid);
  assert.equal(await resolvePlaybookPath('cluster', dir, '/'), path.join(dir, 'cluster.yml'));
  assert.equal(await resolvePlaybookPath('reset', dir, '/'), path.join(dir, 'reset.yaml'));
  assert.equal(await resolvePlaybookPath('my/own.yml', dir, '/work'), '/work/my/own.yml');
  await assert.rejects(resolvePlaybookPath('clustr', dir, '/'), (err: KprovError) => /no playbook named "clustr"/.test(err.message) && /available: cluster, reset/.test(err.hint ?? ''));
  await assert.rejects(loadPlaybook(path.join(dir, 'missing.yml')), /does not exist/);
  const pb = await loadPlaybook(path.join(dir, 'cluster.yml'));
  assert.equal(pb.plays.length, 3);
});

test('max_fail_percentage: a percentage from 0 to 100, absent by default; the shipped cluster.yml states its policy', async () => {
  const pb = parsePlaybook('- name: etcd\n  hosts: etcd\n  max_fail_percentage: 0\n  roles: [etcd]\n- name: n\n  hosts: all\n  roles: [node]\n', 'pb.yml');
  assert.equal(pb.plays[0]!.maxFailPercentage, 0);
  assert.equal(pb.plays[1]!.maxFailPercentage, undefined);
  expectError('- name: x\n  hosts: all\n  max_fail_percentage: 101\n  roles: [a]\n', /max_fail_percentage is from 0 to 100/, 3);
  expectError('- name: x\n  hosts: all\n  max_fail_percentage: "10%"\n  roles: [a]\n', /max_fail_percentage/, 3);

  const cluster = await loadPlaybook(path.join(packageRoot, 'playbooks', 'cluster.yml'));
  const policy = Object.fromEntries(cluster.plays.map((p) => [p.name, [p.anyErrorsFatal, p.maxFailPercentage ?? null]]));
  assert.deepEqual(policy, {
    'Distribute the cluster SSH key': [false, null],
    'Facts and preflight checks': [true, null],
    'Container runtime': [false, null],
    'Pod network (CNI)': [false, null],
    etcd: [false, 0],
    'Kubelet for the static control plane': [false, 0],
    'Control plane': [false, 0],
    Nodes: [false, null],
    'Cluster DNS (CoreDNS add-on)': [false, null],
    'Verify the cluster': [false, null],
  });
});

test("a play's hosts may name a variable: {{ node }}, {{ node | default('…') }}; unset without a default is a usage error", () => {
  const pb = parsePlaybook('- name: gone\n  hosts: "{{ node }}"\n  roles: [a]\n- name: rest\n  hosts: "kube_node:!{{ node | default(\'none\') }}"\n  roles: [a]\n', 'pb.yml');
  assert.equal(hostsPattern(pb.plays[0]!, { node: 'node4,node5' }), 'node4:node5');
  assert.equal(hostsPattern(pb.plays[1]!, { node: ['node4'] }), 'kube_node:!node4');
  assert.equal(hostsPattern(pb.plays[1]!, { node: 'node4,node5' }), 'kube_node:!node4:!node5');
  assert.equal(hostsPattern(pb.plays[1]!, {}), 'kube_node:!none');
  assert.throws(() => hostsPattern(pb.plays[0]!, { node: '' }), (err: KprovError) => err.code === 'usage' && /runs on the hosts given by node, and node is not set/.test(err.message) && /-e node=HOST\[,HOST\]/.test(err.hint ?? ''));
  const odd = parsePlaybook('- name: x\n  hosts: "{{ groups.all }}"\n  roles: [a]\n', 'pb.yml');
  assert.throws(() => hostsPattern(odd.plays[0]!, {}), /uses an expression kprov does not evaluate there/);
  const roles = new RoleRegistry([role('a', () => [convergingTask('a')])]);
  const plan = planRun(pb, clusterInventory(2), roles, { variables: { node: 'node5' } });
  assert.deepEqual(plan.plays.map((p) => p.hosts.map((h) => h.name)), [['node5'], ['node1', 'node2', 'node3', 'node4']]);
});

test("a play's serial may name a variable (Kubespray's -e serial=2), with a default; a bad value is a usage error at its line", () => {
  const pb = parsePlaybook('- name: workers\n  hosts: all\n  serial: "{{ serial | default(1) }}"\n  roles: [a]\n- name: nodefault\n  hosts: all\n  serial: "{{ batch }}"\n  roles: [a]\n', 'pb.yml');
  assert.deepEqual(pb.plays[0]!.serial, { variable: 'serial', fallback: '1' });
  assert.deepEqual(resolveSerial(pb.plays[0]!, {}), { count: 1 });
  assert.deepEqual(resolveSerial(pb.plays[0]!, { serial: 2 }), { count: 2 });
  assert.deepEqual(resolveSerial(pb.plays[0]!, { serial: '50%' }), { percent: 50 });
  assert.throws(() => resolveSerial(pb.plays[0]!, { serial: 'two' }), (err: KprovError) => err.code === 'usage' && /serial is "two"/.test(err.message) && err.location?.line === 3);
  assert.throws(() => resolveSerial(pb.plays[1]!, {}), (err: KprovError) => err.code === 'usage' && /batch is not set/.test(err.message));
  assert.throws(() => parsePlaybook('- name: x\n  hosts: all\n  serial: "{{ a.b }}"\n  roles: [a]\n', 'pb.yml'), /serial is a host count/);
  const roles = new RoleRegistry([role('a', () => [convergingTask('a')])]);
  const plan = planRun(pb, clusterInventory(2), roles, { variables: { serial: '3', batch: 2 } });
  assert.deepEqual(plan.plays.map((p) => p.play.serial), [{ count: 3 }, { count: 2 }]);
});
