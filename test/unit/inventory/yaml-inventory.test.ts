import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadInventory } from '../../../src/inventory/load.js';
import { load, loadError, makeInventory } from './temp-inventory.js';

const INI = `[all]
node1 ansible_host=10.0.0.1 ip=10.0.0.1
node2 ansible_host=10.0.0.2 ip=10.0.0.2 etcd_member_name=etcd2
node[3:4] kube_log_level=4

[kube-master]
node1

[etcd]
node1
node2

[kube-node]
node2
node3
node4

[k8s-cluster:children]
kube-master
kube-node

[k8s-cluster:vars]
kube_log_level=3
`;

// What Kubespray's inventory builder writes (v2.11 and later), with the same hosts and groups.
const YAML = `all:
  hosts:
    node1:
      ansible_host: 10.0.0.1
      ip: 10.0.0.1
    node2:
      ansible_host: 10.0.0.2
      ip: 10.0.0.2
      etcd_member_name: etcd2
    node[3:4]:
      kube_log_level: 4
  children:
    kube-master:
      hosts:
        node1:
    etcd:
      hosts:
        node1:
        node2:
    kube-node:
      hosts:
        node2:
        node3:
        node4:
    k8s-cluster:
      children:
        kube-master:
        kube-node:
      vars:
        kube_log_level: 3
    calico-rr:
      hosts: {}
`;

test('a YAML inventory (hosts.yaml) loads into the same model as its INI form', async () => {
  const fromIni = await load({ 'inventory.ini': INI, 'group_vars/all.yml': 'kube_version: v1.13.4\n' });
  const fromYaml = await load({ 'hosts.yaml': YAML, 'group_vars/all.yml': 'kube_version: v1.13.4\n' });
  const model = (inv: typeof fromIni) => ({
    hosts: inv.hosts.map((h) => ({ ...h })),
    groups: Object.fromEntries(Object.entries(inv.groups).filter(([g]) => g !== 'calico_rr')),
    cluster: inv.cluster,
    node2: inv.hostVars('node2'),
  });
  assert.deepEqual(model(fromYaml), model(fromIni));
  assert.equal(fromYaml.cluster.kube_log_level, 3);
  assert.equal(fromYaml.hostVars('node2').etcd_member_name, 'etcd2');
  assert.equal(fromYaml.hostVars('node4').kube_log_level, 4);
});

test('-i names a YAML inventory file directly; its errors carry file:line', async () => {
  const dir = await makeInventory({ 'hosts.yml': YAML });
  const inv = await loadInventory(path.join(dir, 'hosts.yml'));
  assert.deepEqual(inv.groups['kube_control_plane'], ['node1']);

  const bad = await loadError({ 'hosts.yml': YAML.replace('      ip: 10.0.0.2\n', '      ip: 10.0.0.300\n') });
  assert.equal(bad.where, 'hosts.yml:8:7');
  assert.match(bad.message, /^ip: found "10\.0\.0\.300", expected an IP address$/);
  const typo = await loadError({ 'hosts.yml': YAML.replace('    kube-node:\n      hosts:', '    kube-node:\n      hostz:') });
  assert.equal(typo.where, 'hosts.yml:21:7');
  assert.match(typo.message, /^unexpected key "hostz" in group kube-node; expected hosts, children or vars$/);
});
