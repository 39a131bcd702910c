/**
 * The scheduler stand-in's affinity rules as CoreDNS's Deployment uses them: two replicas with
 * required anti-affinity on kubernetes.io/hostname never share a node, preferred node affinity
 * picks the masters first, required node affinity filters with v1.13's message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { place, placedPods, podSchema, nodeSchema, type Pod } from '../../../dev/standin/kube-scheduler/placement.js';

const node = (name: string, labels: Record<string, string> = {}) =>
  nodeSchema.parse({ metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'True' }], allocatable: { cpu: '2', memory: '2Gi', pods: '110' } } });

const corednsPod = (name: string, nodeName?: string): Pod =>
  podSchema.parse({
    metadata: { name, namespace: 'kube-system', labels: { 'k8s-app': 'coredns' } },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{}],
      affinity: {
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'k8s-app': 'coredns' } } }] },
        nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: 'node-role.kubernetes.io/master', operator: 'In', values: [''] }] } }] },
      },
    },
  });

test('required pod anti-affinity spreads replicas; preferred node affinity puts them on masters first', () => {
  const nodes = [node('node3'), node('node1', { 'node-role.kubernetes.io/master': '' }), node('node2', { 'node-role.kubernetes.io/master': '' })];
  const first = place(corednsPod('a'), nodes, new Map(), []);
  assert.deepEqual(first, { node: 'node1' });
  const placed = placedPods([corednsPod('a', 'node1')], nodes);
  assert.deepEqual(place(corednsPod('b'), nodes, new Map(), placed), { node: 'node2' });
  const all = placedPods([corednsPod('a', 'node1'), corednsPod('b', 'node2'), corednsPod('c', 'node3')], nodes);
  assert.deepEqual(place(corednsPod('d'), nodes, new Map(), all), { unschedulable: "0/3 nodes are available: 3 node(s) didn't match pod affinity/anti-affinity." });
  // A plain pod with the same labels is kept off by the existing pods' rules.
  const plain = podSchema.parse({ metadata: { name: 'x', namespace: 'kube-system', labels: { 'k8s-app': 'coredns' } }, spec: { containers: [{}] } });
  assert.deepEqual(place(plain, nodes, new Map(), all), { unschedulable: "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules." });
  // Another namespace is another matter.
  const elsewhere = podSchema.parse({ metadata: { name: 'y', namespace: 'default', labels: { 'k8s-app': 'coredns' } }, spec: { containers: [{}] } });
  assert.ok('node' in place(elsewhere, nodes, new Map(), all));
});

test('required node affinity filters like a node selector', () => {
  const nodes = [node('node1', { disk: 'ssd' }), node('node2')];
  const pod = podSchema.parse({
    metadata: { name: 'p' },
    spec: { containers: [{}], affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'NotIn', values: ['ssd'] }] }] } } } },
  });
  assert.deepEqual(place(pod, nodes, new Map(), []), { node: 'node2' });
  const none = podSchema.parse({
    metadata: { name: 'q' },
    spec: { containers: [{}], affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }] } } } },
  });
  assert.deepEqual(place(none, nodes, new Map(), []), { unschedulable: "0/2 nodes are available: 2 node(s) didn't match node selector." });
});
