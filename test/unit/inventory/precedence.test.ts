import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Inventory } from '../../../src/inventory/load.js';
import { load } from './temp-inventory.js';

const varOf = (inv: Inventory, host: string, key: string) => inv.hosts.find((h) => h.name === host)!.vars[key];

const INI = `[all]
cp1 ansible_host=10.0.0.1
wk1 ansible_host=10.0.0.2
bastion ansible_host=10.0.0.9

[kube_control_plane]
cp1

[etcd]
cp1

[kube_node]
wk1

[k8s_cluster:children]
kube_control_plane
kube_node
`;

test('[all:vars] < [parent:vars] < [child:vars]', async () => {
  const inv = await load({
    'inventory.ini': `${INI}
[kube_node:vars]
x=child
[all:vars]
x=all
[k8s_cluster:vars]
x=parent
`,
  });
  assert.equal(varOf(inv, 'wk1', 'x'), 'child');
  assert.equal(varOf(inv, 'cp1', 'x'), 'parent');
  assert.equal(varOf(inv, 'bastion', 'x'), 'all');
});

test('group_vars/all < group_vars/<parent> < group_vars/<child>', async () => {
  const inv = await load({
    'inventory.ini': INI,
    'group_vars/all.yml': 'x: all\n',
    'group_vars/k8s_cluster.yml': 'x: parent\n',
    'group_vars/kube_node/main.yml': 'x: child\n',
  });
  assert.equal(varOf(inv, 'wk1', 'x'), 'child');
  assert.equal(varOf(inv, 'cp1', 'x'), 'parent');
  assert.equal(varOf(inv, 'bastion', 'x'), 'all');
});

test('every [group:vars] in the INI ranks below every group_vars/ file, even group_vars/all', async () => {
  const inv = await load({
    'inventory.ini': `${INI}\n[kube_node:vars]\nx=ini-child\ny=ini-child\n`,
    'group_vars/all.yml': 'x: file-all\n',
  });
  assert.equal(varOf(inv, 'wk1', 'x'), 'file-all');
  assert.equal(varOf(inv, 'wk1', 'y'), 'ini-child');
});

test('groups of the same depth apply in name order: the later name wins', async () => {
  const inv = await load({
    'inventory.ini': `${INI}\n[zeta]\ncp1\n[alpha]\ncp1\n`,
    'group_vars/zeta.yml': 'x: zeta\n',
    'group_vars/alpha.yml': 'x: alpha\n',
    'group_vars/etcd.yml': 'x: etcd\ny: etcd\n',
    'group_vars/k8s_cluster.yml': 'y: k8s_cluster\n',
  });
  assert.equal(varOf(inv, 'cp1', 'x'), 'zeta');
  // etcd and k8s_cluster are both children of all: k8s_cluster sorts later and wins.
  assert.equal(varOf(inv, 'cp1', 'y'), 'k8s_cluster');
});

test('a deeper group wins over a shallower one whatever the names', async () => {
  const inv = await load({
    'inventory.ini': `${INI}\n[aaa:children]\nkube_control_plane\n`,
    'group_vars/kube_control_plane.yml': 'x: deep\n',
    'group_vars/zzz_top.yml': 'x: top\n',
    'group_vars/aaa.yml': 'x: aaa\n',
  });
  assert.equal(varOf(inv, 'cp1', 'x'), 'deep');
});

test('group variables < inline host variables < host_vars/ files', async () => {
  const inv = await load({
    'inventory.ini': INI.replace('wk1 ansible_host=10.0.0.2', 'wk1 ansible_host=10.0.0.2 x=inline y=inline').replace(
      'cp1 ansible_host=10.0.0.1',
      'cp1 ansible_host=10.0.0.1 x=inline',
    ),
    'group_vars/all.yml': 'x: group\ny: group\nz: group\n',
    'group_vars/kube_node.yml': 'x: group-child\n',
    'host_vars/wk1.yml': 'y: host_vars\n',
    'host_vars/cp1/a.yml': 'x: host_vars-a\n',
    'host_vars/cp1/b.yml': 'x: host_vars-b\n',
  });
  assert.equal(varOf(inv, 'wk1', 'x'), 'inline');
  assert.equal(varOf(inv, 'wk1', 'y'), 'host_vars');
  assert.equal(varOf(inv, 'wk1', 'z'), 'group');
  assert.equal(varOf(inv, 'cp1', 'x'), 'host_vars-b');
});

test('inline variables on a later line override earlier ones; host:port sets ansible_port', async () => {
  const inv = await load({
    'inventory.ini': INI.replace('[kube_node]\nwk1', '[kube_node]\nwk1:2222 x=later').replace(
      'wk1 ansible_host=10.0.0.2',
      'wk1 ansible_host=10.0.0.2 x=earlier ansible_port=22',
    ),
  });
  assert.equal(varOf(inv, 'wk1', 'x'), 'later');
  assert.equal(inv.hostVars('wk1').ansible_port, 2222);
});

test('files in a group_vars directory apply in sorted order; a directory hides NAME.yml as in Ansible', async () => {
  const inv = await load({
    'inventory.ini': INI,
    'group_vars/all/10-first.yml': 'x: first\ny: first\n',
    'group_vars/all/20-second.yaml': 'x: second\n',
    'group_vars/all/sub/30-nested.yml': 'w: nested\n',
    'group_vars/all/all.yml.template': 'x: ignored\n',
    'group_vars/all/.hidden.yml': 'x: ignored\n',
    'group_vars/all.yml': 'x: ignored\n',
  });
  assert.equal(varOf(inv, 'wk1', 'x'), 'second');
  assert.equal(varOf(inv, 'wk1', 'y'), 'first');
  assert.equal(varOf(inv, 'wk1', 'w'), 'nested');
  const ignored = inv.warnings.filter((w) => w.code === 'ignored-file');
  assert.equal(ignored.length, 1);
  assert.match(ignored[0]!.message, /ignored: group_vars\/all exists, and Ansible reads only the first of all\/, all\.yml/);
});

test('the winning value keeps where it was defined', async () => {
  const inv = await load({
    'inventory.ini': `${INI}\n[kube_node:vars]\nkube_version=v1.13.4\n`,
    'group_vars/k8s_cluster.yml': '# k8s\nkube_version: v1.13.4\n',
    'host_vars/wk1.yml': 'kubelet_max_pods: 300\n',
  });
  assert.equal(inv.cluster.kube_version, 'v1.13.4');
  assert.equal(inv.hostVars('wk1').kubelet_max_pods, 300);
  assert.equal(inv.hostVars('cp1').kubelet_max_pods, 110);
});

test('group_vars for a group or host that does not exist are reported, not applied', async () => {
  const inv = await load({
    'inventory.ini': INI,
    'group_vars/kube_nodes.yml': 'x: typo\n',
    'host_vars/wk2.yml': 'x: typo\n',
  });
  assert.equal(varOf(inv, 'wk1', 'x'), undefined);
  const unused = inv.warnings.filter((w) => w.code === 'unused-vars-file').map((w) => w.message);
  assert.deepEqual(unused, [
    'group_vars/kube_nodes: the inventory has no group named kube_nodes; its variables are not used',
    'host_vars/wk2: the inventory has no host named wk2; its variables are not used',
  ]);
});
