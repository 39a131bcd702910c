import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, loadError, SMALL_INI } from './temp-inventory.js';

test('inline host values are literals; :vars values are strings until a schema types them', async () => {
  const inv = await load({
    'inventory.ini': SMALL_INI.replace('node2 ansible_host=10.0.0.2', 'node2 ansible_host=10.0.0.2 ansible_port=2222 n=22 f=1.5 b=True s="22" l="[1, 2]"') +
      `\n[all:vars]\nkube_apiserver_port=6443\ndownload_localhost=no\nansible_become=yes\nm=22\nupstream_dns_servers=['1.1.1.1', '8.8.8.8']\nloadbalancer_apiserver={'address': '10.0.0.10', 'port': 8443}\n`,
  });
  const node2 = inv.hosts.find((h) => h.name === 'node2')!;
  assert.equal(inv.hostVars('node2').ansible_port, 2222);
  assert.deepEqual(
    [node2.vars['n'], node2.vars['f'], node2.vars['b'], node2.vars['s'], node2.vars['l'], node2.vars['m']],
    [22, 1.5, true, 22, [1, 2], '22'],
  );
  // Known variables are shown as their schema types them.
  assert.equal(node2.vars['kube_apiserver_port'], 6443);
  assert.equal(node2.vars['download_localhost'], false);
  assert.equal(node2.vars['ansible_become'], true);
  assert.equal(inv.cluster.kube_apiserver_port, 6443);
  assert.equal(inv.cluster.download_localhost, false);
  assert.deepEqual(inv.cluster.upstream_dns_servers, ['1.1.1.1', '8.8.8.8']);
  assert.deepEqual(inv.cluster.loadbalancer_apiserver, { address: '10.0.0.10', port: 8443 });
  assert.equal(inv.cluster.loadbalancer_apiserver_localhost, false);
});

test('YAML values are coerced where Kubespray users quote them; versions are normalized', async () => {
  const inv = await load({
    'inventory.ini': SMALL_INI,
    'group_vars/all.yml': [
      'kube_apiserver_port: "6443"',
      'kube_network_node_prefix: "25"',
      'download_localhost: "False"',
      'containerd_version: v1.2.6',
      'runc_version: 1.0.0-rc6',
      'etcd_version: 3.2.24',
      'kubelet_checksum: 0',
      'kube_proxy_checksum: ""',
      'etcd_checksum: 127d4f2097c09d929beb9d3784590cc11102f4b4d4d4da7ad82d5c9e856afd38',
      'files_repo: http://10.0.0.100/files',
      'loadbalancer_apiserver_localhost: yes',
      '',
    ].join('\n'),
  });
  const c = inv.cluster;
  assert.deepEqual(
    [c.kube_apiserver_port, c.kube_network_node_prefix, c.download_localhost, c.containerd_version, c.runc_version, c.etcd_version],
    [6443, 25, false, '1.2.6', 'v1.0.0-rc6', 'v3.2.24'],
  );
  assert.equal(c.kubelet_checksum, undefined);
  assert.equal(c.kube_proxy_checksum, undefined);
  assert.equal(c.etcd_checksum, '127d4f2097c09d929beb9d3784590cc11102f4b4d4d4da7ad82d5c9e856afd38');
  assert.equal(c.files_repo, 'http://10.0.0.100/files');
  assert.equal(c.loadbalancer_apiserver_localhost, true);
});

test('only the winning value is validated, and its file and line are named when it is wrong', async () => {
  const ok = await load({
    'inventory.ini': `${SMALL_INI}\n[all:vars]\nkube_apiserver_port=https\n`,
    'group_vars/all.yml': 'kube_apiserver_port: 6443\n',
  });
  assert.equal(ok.cluster.kube_apiserver_port, 6443);

  const err = await loadError({
    'inventory.ini': SMALL_INI,
    'group_vars/all.yml': 'kubelet_max_pods: 110\n',
    'host_vars/node2.yml': '# more pods here\nkubelet_max_pods: lots\n',
  });
  assert.equal(err.where, 'host_vars/node2.yml:2:1');
  assert.equal(err.message, 'kubelet_max_pods: found "lots", expected a number of pods (1-10000)');
  assert.equal(err.host, 'node2');
});

test('INI :vars errors point at the line and column of the key', async () => {
  const err = await loadError({ 'inventory.ini': `${SMALL_INI}\n[all:vars]\n  download_localhost=maybe\n` });
  assert.equal(err.where, 'inventory.ini:15:3');
  assert.equal(err.message, 'download_localhost: found "maybe", expected true or false (or yes/no)');
});

test('wrong types in nested values name the nested key', async () => {
  const err = await loadError({
    'inventory.ini': SMALL_INI,
    'group_vars/all.yml': 'supplementary_addresses_in_ssl_keys:\n  - 10.0.0.1\n  - "not an address"\n',
  });
  assert.equal(err.where, 'group_vars/all.yml:1:1');
  assert.equal(err.message, 'supplementary_addresses_in_ssl_keys.1: found "not an address", expected an IP address or DNS name');
});

test('an empty etcd_member_name (Kubespray\'s sample allows it outside etcd) means the default; an empty ip is unset', async () => {
  const inv = await load({ 'inventory.ini': SMALL_INI.replace('node2 ansible_host=10.0.0.2', 'node2 ansible_host=10.0.0.2 etcd_member_name= ip=') });
  assert.equal(inv.hostVars('node2').etcd_member_name, 'node2');
  assert.equal(inv.hostVars('node2').ip, undefined);
});
