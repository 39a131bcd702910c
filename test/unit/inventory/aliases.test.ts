import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalGroupName } from '../../../src/inventory/groups.js';
import { load } from './temp-inventory.js';

const OLD_INI = `[all]
master1 ansible_host=10.0.0.1
worker1 ansible_host=10.0.0.2
rr1 ansible_host=10.0.0.3

[kube-master]
master1

[etcd]
master1

[kube-node]
worker1

[calico-rr]
rr1

[k8s-cluster:children]
kube-master
kube-node
calico-rr
`;

test('old group names map to the current ones', () => {
  assert.equal(canonicalGroupName('kube-master'), 'kube_control_plane');
  assert.equal(canonicalGroupName('kube-node'), 'kube_node');
  assert.equal(canonicalGroupName('k8s-cluster'), 'k8s_cluster');
  assert.equal(canonicalGroupName('calico-rr'), 'calico_rr');
  assert.equal(canonicalGroupName('etcd'), 'etcd');
  assert.equal(canonicalGroupName('bastion'), 'bastion');
  assert.equal(canonicalGroupName('my-group'), 'my-group');
});

test('an old-style inventory is modelled with the current group names everywhere', async () => {
  const inv = await load({
    'inventory.ini': OLD_INI,
    'group_vars/k8s-cluster.yml': 'kube_version: v1.13.4\n',
    'group_vars/kube-master/main.yml': 'kubelet_max_pods: 50\n',
    'group_vars/calico-rr.yml': 'x: rr\n',
  });
  assert.deepEqual(Object.keys(inv.groups), ['all', 'calico_rr', 'etcd', 'k8s_cluster', 'kube_control_plane', 'kube_node', 'ungrouped']);
  assert.deepEqual(inv.groups['k8s_cluster'], ['master1', 'rr1', 'worker1']);
  assert.deepEqual(inv.hosts[0]!.groups, ['all', 'etcd', 'k8s_cluster', 'kube_control_plane']);
  assert.equal(inv.cluster.kube_version, 'v1.13.4');
  assert.equal(inv.hostVars('master1').kubelet_max_pods, 50);
  assert.equal(inv.hostVars('worker1').kubelet_max_pods, 110);
  assert.equal(inv.hosts.find((h) => h.name === 'rr1')!.vars['x'], 'rr');
});

test('group_vars under both names apply to one group; the current name wins', async () => {
  const inv = await load({
    'inventory.ini': OLD_INI,
    'group_vars/k8s_cluster/a.yml': 'x: new\n',
    'group_vars/k8s-cluster/z.yml': 'x: old\ny: old\n',
  });
  const vars = inv.hosts.find((h) => h.name === 'worker1')!.vars;
  assert.equal(vars['x'], 'new');
  assert.equal(vars['y'], 'old');
});

test('a missing k8s_cluster is derived from the control plane, nodes and calico_rr', async () => {
  const inv = await load({ 'inventory.ini': OLD_INI.replace(/\[k8s-cluster:children\][\s\S]*$/, '') });
  assert.deepEqual(inv.groups['k8s_cluster'], ['master1', 'rr1', 'worker1']);
});

test('older spellings of connection variables stand in when the current ones are not set', async () => {
  const inv = await load({
    'inventory.ini': `[all]
a ansible_ssh_host=10.0.0.1 ansible_ssh_port=2200 ansible_ssh_user=core ansible_private_key_file=/keys/a
b ansible_ssh_host=10.0.0.99
[kube_control_plane]
a
[etcd]
a
[kube_node]
b
`,
    'host_vars/b.yml': 'ansible_host: 10.0.0.2\n',
  });
  const a = inv.hostVars('a');
  assert.deepEqual([a.ansible_host, a.ansible_port, a.ansible_user, a.ansible_ssh_private_key_file], ['10.0.0.1', 2200, 'core', '/keys/a']);
  assert.equal(inv.hosts[0]!.address, '10.0.0.1');
  // The current name wins whatever the precedence of the older one, as in Ansible.
  assert.equal(inv.hostVars('b').ansible_host, '10.0.0.2');
  assert.equal(inv.warnings.filter((w) => w.code === 'unknown-variable').length, 0);
});
