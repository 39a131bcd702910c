import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKprovError } from '../../../src/errors.js';
import { buildHierarchy } from '../../../src/inventory/hierarchy.js';
import { parseInventoryIni } from '../../../src/inventory/ini-parse.js';

const parse = (text: string) => parseInventoryIni(text, '/inv/inventory.ini');
const hierarchy = (text: string) => buildHierarchy(parse(text));

test('sections, host lines with variables, children and vars, with locations', () => {
  const ini = parse(`# comment
; another
stray ansible_port=2222
[all]
node1 ansible_host=10.0.0.1 ip=10.0.0.1   # inline comment
node[2:3]

[kube-master]
node1

[k8s-cluster:children]
kube-master

[all:vars]
ansible_user = ubuntu ; trailing comment
`);
  assert.deepEqual(
    ini.sections.map((s) => [s.group, s.written, s.kind, s.location.line]),
    [
      ['all', 'all', 'hosts', 4],
      ['kube_control_plane', 'kube-master', 'hosts', 8],
      ['k8s_cluster', 'k8s-cluster', 'children', 11],
      ['all', 'all', 'vars', 14],
    ],
  );
  assert.deepEqual(
    ini.hosts.map((h) => [h.host, h.group, h.location.line]),
    [
      ['stray', 'ungrouped', 3],
      ['node1', 'all', 5],
      ['node2', 'all', 6],
      ['node3', 'all', 6],
      ['node1', 'kube_control_plane', 9],
    ],
  );
  assert.deepEqual(ini.hosts[0]!.vars, [{ key: 'ansible_port', value: 2222, location: { file: '/inv/inventory.ini', line: 3, column: 7 } }]);
  assert.deepEqual(ini.hosts[1]!.vars.map((v) => [v.key, v.value, v.location.column]), [
    ['ansible_host', '10.0.0.1', 7],
    ['ip', '10.0.0.1', 29],
  ]);
  assert.deepEqual(ini.children.map((c) => [c.parent, c.child, c.location.line]), [['k8s_cluster', 'kube_control_plane', 12]]);
  assert.deepEqual(ini.groupVars.map((v) => [v.group, v.key, v.value, v.location.line]), [['all', 'ansible_user', 'ubuntu', 15]]);
});

test('malformed sections and lines are errors at their line and column', () => {
  const cases: [string, string, RegExp][] = [
    ['[kube_node\nnode1\n', '1:1', /bad section header "\[kube_node"/],
    ['[kube_node:hosts]\n', '1:12', /unknown section kind ":hosts" in \[kube_node:hosts\]; expected \[kube_node\], \[kube_node:children\] or \[kube_node:vars\]/],
    ['[bad name]\n', '1:2', /invalid group name "bad name"/],
    ['[a:children]\nb c\n', '2:3', /expected one group name per line in \[a:children\]/],
    ['[a:children]\nb=1\n', '2:1', /expected one group name per line/],
    ['[a]\nansible_user=root\n', '2:1', /expected a host name before "ansible_user=root" in \[a\]/],
    ['[a]\nnode1 foo\n', '2:7', /expected key=value after the host name, found "foo"/],
    ['[a]\nnode1 bad-key=1\n', '2:7', /invalid variable name "bad-key"/],
    ['[a]\n  node[3:1]\n', '2:7', /must have start <= end \(in \[a\]\)/],
  ];
  for (const [text, where, message] of cases) {
    assert.throws(
      () => parse(text),
      (err: unknown) =>
        isKprovError(err) && `${err.location?.line}:${err.location?.column}` === where && message.test(err.message),
      text,
    );
  }
});

test('groups: implicit all and ungrouped, :children closure, depth, derived k8s_cluster', () => {
  const h = hierarchy(`[all]
loner
n1
n2
n3
[kube_control_plane]
n1
[kube_node]
n2
[etcd:children]
kube_control_plane
[extra]
n3
[extra:children]
kube_node
`);
  assert.deepEqual(h.hosts, ['loner', 'n1', 'n2', 'n3']);
  assert.deepEqual(h.groupsOf('n1'), ['all', 'etcd', 'k8s_cluster', 'kube_control_plane']);
  assert.deepEqual(h.groupsOf('n2'), ['all', 'extra', 'k8s_cluster', 'kube_node']);
  assert.deepEqual(h.groupsOf('loner'), ['all', 'ungrouped']);
  assert.deepEqual(h.groupsOf('n3'), ['all', 'extra']);
  assert.deepEqual(h.membersInOrder('ungrouped'), ['loner']);
  assert.deepEqual(h.membersInOrder('extra'), ['n3', 'n2']);
  assert.deepEqual(h.membersInOrder('k8s_cluster'), ['n1', 'n2']);
  assert.equal(h.groups.get('k8s_cluster')!.location, undefined);
  const depth = (g: string) => h.groups.get(g)!.depth;
  assert.deepEqual([depth('all'), depth('etcd'), depth('extra'), depth('kube_control_plane'), depth('kube_node')], [0, 1, 1, 2, 2]);
});

test('hosts before the first section are ungrouped', () => {
  const h = hierarchy('stray\n[kube_node]\nn1\n');
  assert.deepEqual(h.groupsOf('stray'), ['all', 'ungrouped']);
  assert.deepEqual(h.membersInOrder('all'), ['stray', 'n1']);
});

test('k8s_cluster is not derived when the inventory declares it', () => {
  const h = hierarchy('[kube_control_plane]\nn1\n[kube_node]\nn2\n[k8s_cluster]\nn2\n');
  assert.deepEqual(h.membersInOrder('k8s_cluster'), ['n2']);
});

test('the undefined-host rule: with hosts under [all], every other mention must be one of them', () => {
  assert.throws(
    () => hierarchy('[all]\nnode1\nnode2\n\n[kube_node]\nnode2\nnode6\n'),
    (err: unknown) =>
      isKprovError(err) &&
      err.location?.line === 7 &&
      err.message === 'host node6 in [kube_node] is not defined in [all]',
  );
  // Without hosts under [all], a host's first mention defines it (Ansible's rule).
  const h = hierarchy('[all:vars]\nx=1\n[kube_node]\nnode6\n');
  assert.deepEqual(h.hosts, ['node6']);
});

test(':children cycles are errors showing the cycle; undefined children and :vars groups are errors', () => {
  assert.throws(
    () => hierarchy('[a:children]\nb\n[b:children]\nc\n[c:children]\na\n'),
    (err: unknown) => isKprovError(err) && err.message === 'cycle in :children: a → b → c → a' && err.location?.line === 6,
  );
  assert.throws(() => hierarchy('[a:children]\na\n'), /cycle in :children: a → a/);
  assert.throws(() => hierarchy('[a:children]\nmissing\n'), /group missing in \[a:children\] is not defined: there is no \[missing\] section/);
  assert.throws(() => hierarchy('[a]\nh\n[b:vars]\nx=1\n'), /\[b:vars\] sets variables for group b, which has no \[b\] or \[b:children\] section/);
});

test('old and new names of one group are merged, with a warning', () => {
  const h = hierarchy('[kube-master]\nn1\n[kube_control_plane]\nn2\n');
  assert.deepEqual(h.membersInOrder('kube_control_plane'), ['n1', 'n2']);
  assert.equal(h.warnings[0]?.code, 'group-alias');
  assert.match(h.warnings[0]!.message, /\[kube-master\] and \[kube_control_plane\] name the same group/);
});
