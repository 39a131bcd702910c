import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, loadError, SMALL_INI } from './temp-inventory.js';

test('hosts may share an address on different SSH ports (port forwarding), not on the same one', async () => {
  const ini = SMALL_INI.replace('node2 ansible_host=10.0.0.2', 'node2 ansible_host=10.0.0.1 ansible_port=2222');
  const inv = await load({ 'inventory.ini': ini });
  assert.equal(inv.hosts[1]!.address, '10.0.0.1');
  const err = await loadError({ 'inventory.ini': SMALL_INI.replace('node2 ansible_host=10.0.0.2', 'node2:2222 ansible_host=10.0.0.9').replace('node1 ansible_host=10.0.0.1', 'node1:2222 ansible_host=10.0.0.9') });
  assert.equal(err.message, 'hosts node1 and node2 have the same SSH address 10.0.0.9:2222; expected one address per host');
});

test('access_ip must be unique too', async () => {
  const err = await loadError({
    'inventory.ini': SMALL_INI,
    'group_vars/all.yml': 'access_ip: 192.168.1.1\n',
  });
  assert.equal(err.where, 'group_vars/all.yml:1:1');
  assert.equal(err.message, 'hosts node1 and node2 have the same access_ip 192.168.1.1; expected one address per host');
});

test('service and pod ranges must be of one address family; IPv6 ranges are accepted', async () => {
  const mixed = await loadError({ 'inventory.ini': SMALL_INI, 'group_vars/all.yml': 'kube_pods_subnet: fd00:10::/56\nkube_network_node_prefix: 64\n' });
  assert.equal(mixed.message, 'kube_service_addresses is IPv4 but kube_pods_subnet is IPv6; expected one address family (Kubernetes v1.13 has no dual stack)');
  const v6 = await load({
    'inventory.ini': SMALL_INI,
    'group_vars/all.yml': 'kube_service_addresses: fd00:20::/112\nkube_pods_subnet: fd00:10::/56\nkube_network_node_prefix: 64\n',
  });
  assert.equal(v6.cluster.kube_apiserver_ip, 'fd00:20::1');
  assert.equal(v6.cluster.skydns_server, 'fd00:20::3');
});

test('a host name that is not a valid address is an error at the host line', async () => {
  const err = await loadError({ 'inventory.ini': SMALL_INI.replace('node2 ansible_host=10.0.0.2', 'node2 ansible_host=10.0.0.256') });
  assert.equal(err.where, 'inventory.ini:3:7');
  assert.equal(err.message, 'ansible_host: found "10.0.0.256", expected an IP address or DNS name');
});
