/**
 * remove-node's pure parts: etcd's member list with IDs, the quorum rule with its message, the
 * pods a drain evicts, and which hosts `node` may name (the topology leaves them out of the
 * nodes, so their routes and pod CIDRs go).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMemberListSimple, quorumOf, quorumProblem } from '../../../src/roles/remove-node/etcd-member.js';
import { evictablePods, parseNode } from '../../../src/roles/remove-node/node-objects.js';
import { buildTopology } from '../../../src/cluster/topology.js';
import { loadTestInventory } from '../cluster/test-cluster.js';

test('member list -w simple: IDs as hex text, names, client URLs', () => {
  const text = '8e9e05c52164694d, started, node1, https://10.0.0.1:2380, https://10.0.0.1:2379\nffffffffffffffff, started, node3, https://10.0.0.3:2380, https://10.0.0.3:2379, false\n';
  assert.deepEqual(parseMemberListSimple(text), [
    { id: '8e9e05c52164694d', name: 'node1', clientUrls: ['https://10.0.0.1:2379'] },
    { id: 'ffffffffffffffff', name: 'node3', clientUrls: ['https://10.0.0.3:2379'] },
  ]);
});

test('quorum: the healthy members that stay must be more than half of those that stay', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(quorumOf), [1, 2, 2, 3, 3]);
  assert.equal(quorumProblem(3, ['node3'], 2), undefined);
  assert.equal(quorumProblem(3, ['node3'], 1), 'removing node3 leaves 2 member(s), of which 1 healthy; etcd needs 2 for a quorum');
  assert.equal(quorumProblem(2, ['node2'], 1), undefined);
  assert.equal(quorumProblem(1, ['node1'], 0), 'removing node1 would leave etcd without members');
});

test('a drain evicts running pods, not mirror, DaemonSet or finished ones; a node without output is gone', () => {
  const pods = {
    items: [
      { metadata: { name: 'app', namespace: 'default' }, status: { phase: 'Running' } },
      { metadata: { name: 'static', namespace: 'kube-system', annotations: { 'kubernetes.io/config.mirror': 'x' } }, status: { phase: 'Running' } },
      { metadata: { name: 'ds', namespace: 'kube-system', ownerReferences: [{ kind: 'DaemonSet' }] }, status: { phase: 'Running' } },
      { metadata: { name: 'done', namespace: 'default' }, status: { phase: 'Succeeded' } },
    ],
  };
  assert.deepEqual(evictablePods(JSON.stringify(pods)), ['default/app']);
  assert.equal(parseNode(''), undefined);
  assert.deepEqual(parseNode(JSON.stringify({ spec: { unschedulable: true }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } })), { unschedulable: true, ready: false });
});

test('node: workers and etcd-only hosts leave the topology\'s nodes; unknown names are refused', async (t) => {
  const leaving = buildTopology(await loadTestInventory(t, { workers: 2, vars: { node: 'node4,node5' } }));
  assert.deepEqual(leaving.leaving.map((h) => h.name), ['node4', 'node5']);
  assert.deepEqual(leaving.nodes.map((n) => n.host.name), ['node1', 'node2', 'node3']);
  const typo = await loadTestInventory(t, { workers: 2, vars: { node: 'nodee4' } });
  assert.throws(() => buildTopology(typo), /node: nodee4 is not a host of the inventory \(did you mean node4\?\)/);
});

test('node: a control-plane host leaves; the topology has the staying control plane, etcd endpoints and API endpoint', async (t) => {
  const full = buildTopology(await loadTestInventory(t, { workers: 1 }));
  assert.equal(full.apiserverEndpoint, 'https://10.10.0.1:6443');
  const first = buildTopology(await loadTestInventory(t, { workers: 1, vars: { node: 'node1' } }));
  assert.deepEqual(first.leaving.map((h) => h.name), ['node1']);
  assert.deepEqual(first.controlPlane.map((h) => h.name), ['node2', 'node3']);
  assert.deepEqual(first.etcd.map((m) => m.name), ['node1', 'node2', 'node3'], 'pre-remove still finds the leaving member');
  assert.equal(first.etcdEndpoints, 'https://10.10.0.2:2379,https://10.10.0.3:2379');
  assert.equal(first.etcdInitialCluster, 'node2=https://10.10.0.2:2380,node3=https://10.10.0.3:2380');
  assert.equal(first.apiserverEndpoint, 'https://10.10.0.2:6443', 'the first control-plane host that stays');
  assert.deepEqual(first.nodes.map((n) => n.host.name), ['node2', 'node3', 'node4']);
  assert.ok(first.apiProxy, 'two control-plane hosts stay: the workers keep their proxy');
  const two = buildTopology(await loadTestInventory(t, { workers: 1, vars: { node: 'node2,node3' } }));
  assert.deepEqual(two.controlPlane.map((h) => h.name), ['node1']);
  assert.equal(two.apiProxy, undefined, 'one control-plane host left: nothing to balance');
});

test('node: the last control-plane host is refused, with the names', async (t) => {
  const all = await loadTestInventory(t, { workers: 1, vars: { node: 'node1,node2,node3' } });
  assert.throws(() => buildTopology(all), { code: 'usage', message: 'node: removing node1, node2, node3 would leave the cluster without a control-plane host' });
  const one = await loadTestInventory(t, { controlPlane: 1, workers: 1, vars: { node: 'node1' } });
  assert.throws(() => buildTopology(one), { code: 'usage', message: 'node: removing node1 would leave the cluster without a control-plane host' });
});
