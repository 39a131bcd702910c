import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globToRegExp, selectHosts } from '../../../src/engine/patterns.js';
import { KprovError } from '../../../src/errors.js';
import { clusterInventory, makeInventory } from './playbook-harness.js';

const inv = clusterInventory(2); // node1-3 control plane + etcd, node1-5 nodes
const sel = (pattern: string) => selectHosts(pattern, inv, { label: 'hosts' });

test('all, a group, a host', () => {
  assert.deepEqual(sel('all'), ['node1', 'node2', 'node3', 'node4', 'node5']);
  assert.deepEqual(sel('*'), sel('all'));
  assert.deepEqual(sel('kube_control_plane'), ['node1', 'node2', 'node3']);
  assert.deepEqual(sel('node4'), ['node4']);
});

test('union, intersection and exclusion, applied in Ansible order', () => {
  assert.deepEqual(sel('node5:node1'), ['node1', 'node5'], 'results keep inventory order');
  assert.deepEqual(sel('kube_node:!kube_control_plane'), ['node4', 'node5']);
  assert.deepEqual(sel('kube_node:&etcd'), ['node1', 'node2', 'node3']);
  // Exclusions apply after every union whatever their position, as in Ansible.
  assert.deepEqual(sel('!node2:etcd'), ['node1', 'node3']);
  assert.deepEqual(sel('etcd:node4:&kube_node:!node1'), ['node2', 'node3', 'node4']);
  assert.deepEqual(sel('node1,node2'), ['node1', 'node2'], 'commas separate terms too');
});

test('a pattern of only exclusions starts from all', () => {
  assert.deepEqual(sel('!kube_control_plane'), ['node4', 'node5']);
});

test('globs and ~regex match host and group names', () => {
  assert.deepEqual(sel('node[45]'), ['node4', 'node5']);
  assert.deepEqual(sel('node?:!node1'), ['node2', 'node3', 'node4', 'node5']);
  assert.deepEqual(sel('kube_c*'), ['node1', 'node2', 'node3'], 'glob over group names selects their members');
  assert.deepEqual(sel('~node[12]$'), ['node1', 'node2']);
  assert.deepEqual(sel('node[!1-3]'), ['node4', 'node5']);
  assert.ok(globToRegExp('a.b*').test('a.bc'));
  assert.ok(!globToRegExp('a.b*').test('axbc'), 'dots are literal');
});

test('well-known groups that the inventory lacks are empty, not unknown', () => {
  const small = makeInventory(['a', 'b'], { kube_node: ['a', 'b'] });
  assert.deepEqual(selectHosts('bastion', small, { label: 'hosts' }), []);
  assert.deepEqual(selectHosts('kube_node:!kube_control_plane', small, { label: 'hosts' }), ['a', 'b']);
});

test('unknown names, empty matches and malformed patterns are clear errors with the location', () => {
  const location = { file: 'playbooks/x.yml', line: 3, column: 10 };
  const cases: [string, RegExp][] = [
    ['kube_nodes', /no group or host named "kube_nodes"/],
    ['etcd:!nosuch', /no group or host named "nosuch"/],
    ['web*', /"web\*" matches no group or host/],
    ['etcd::kube_node', /empty term/],
    ['etcd:!', /names nothing/],
    ['~node[', /bad regular expression/],
  ];
  for (const [pattern, message] of cases) {
    assert.throws(
      () => selectHosts(pattern, inv, { label: 'hosts', location }),
      (err: unknown) => {
        assert.ok(err instanceof KprovError, pattern);
        assert.match(err.message, message);
        assert.deepEqual(err.location, location);
        assert.equal(err.exitCode, 2);
        return true;
      },
    );
  }
  assert.throws(() => sel('nosuch'), (err: KprovError) => /groups in this inventory: .*etcd/.test(err.hint ?? ''));
});
