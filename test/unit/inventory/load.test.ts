import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KprovErrorList } from '../../../src/errors.js';
import path from 'node:path';
import { loadInventory } from '../../../src/inventory/load.js';
import { packageRoot } from '../../../src/paths.js';
import { load, loadError, makeInventory, SMALL_INI } from './temp-inventory.js';

const fixtures = path.join(packageRoot, 'test', 'fixtures', 'inventories');

test('the sample inventory loads without warnings, with kprov\'s defaults', async () => {
  const inv = await loadInventory(path.join(packageRoot, 'inventory', 'sample'));
  assert.deepEqual(inv.warnings, []);
  assert.equal(inv.source, path.join(packageRoot, 'inventory', 'sample', 'inventory.ini'));
  assert.deepEqual(inv.hosts.map((h) => [h.name, h.address]), [
    ['node1', '10.0.0.11'],
    ['node2', '10.0.0.12'],
    ['node3', '10.0.0.13'],
    ['node4', '10.0.0.14'],
    ['node5', '10.0.0.15'],
  ]);
  const c = inv.cluster;
  assert.deepEqual(
    [c.kube_version, c.etcd_version, c.kube_service_addresses, c.kube_pods_subnet, c.kube_apiserver_ip, c.skydns_server, c.kube_dns_server, c.dns_domain, c.kube_cert_dir],
    ['v1.13.5', 'v3.2.24', '10.233.0.0/18', '10.233.64.0/18', '10.233.0.1', '10.233.0.3', '10.233.0.3', 'cluster.local', '/etc/kubernetes/ssl'],
  );
  assert.equal(inv.hostVars('node1').ansible_user, 'root');
  assert.throws(() => inv.hostVars('node9'), /no host named node9/);
});

test('a Kubespray v2.9 inventory and a current one load into the same model', async () => {
  const old = await loadInventory(path.join(fixtures, 'kubespray-2.9'));
  const current = await loadInventory(path.join(fixtures, 'kubespray-current'));
  assert.equal(path.basename(old.source), 'hosts.ini');
  assert.equal(path.basename(current.source), 'inventory.ini');
  const normalize = (inv: typeof old) => JSON.parse(JSON.stringify({ hosts: inv.hosts, groups: inv.groups, cluster: inv.cluster }).split(inv.dir).join('<dir>')) as unknown;
  assert.deepEqual(normalize(old), normalize(current));
  assert.equal(old.cluster.kube_proxy_mode, 'ipvs');
  assert.equal(old.cluster.skydns_server, '10.233.0.3');
  assert.deepEqual(old.cluster.supplementary_addresses_in_ssl_keys, ['192.168.50.10', 'k8s-api.example.internal']);
  assert.equal(old.hostVars('node1').etcd_member_name, 'etcd1');
  assert.equal(old.hostVars('node4').etcd_member_name, 'node4');
  // Variables kprov does not use are evaluated for display, or shown as written when they cannot be.
  const vars = old.hosts[0]!.vars;
  assert.equal(vars['kube_script_dir'], '/usr/local/bin/kubernetes-scripts');
  assert.deepEqual(vars['kube_proxy_nodeport_addresses'], []);
  assert.equal(vars['dynamic_kubelet_configuration_dir'], '/etc/kubernetes/dynamic_kubelet_dir');
  assert.equal(vars['credentials_dir'], path.join(old.dir, 'credentials'));
  assert.match(String(vars['kube_api_pwd']), /^\{\{ lookup\('password'/);
  assert.match(String(vars['docker_options']), /docker_insecure_registries is defined/);
  // Unknown variables are listed once each; Kubespray settings that make the cluster differ come first.
  const unknown = old.warnings.filter((w) => w.code === 'unknown-variable').map((w) => w.message);
  assert.equal(new Set(unknown).size, unknown.length);
  const differs = old.warnings.filter((w) => w.code === 'kubespray-differs').map((w) => w.message.split(':')[0]);
  assert.deepEqual(differs, ['etcd_compaction_retention', 'dashboard_enabled']);
  assert.ok(unknown.includes('ansible_python_interpreter is an Ansible variable kprov does not use'));
  assert.equal(old.warnings.length, current.warnings.length);
});

test('an INI file can be named directly; hosts.ini and hosts are found when inventory.ini is absent', async () => {
  const dir = await makeInventory({ hosts: SMALL_INI });
  assert.equal((await loadInventory(dir)).source, path.join(dir, 'hosts'));
  const dir2 = await makeInventory({ 'custom.ini': SMALL_INI, 'group_vars/all.yml': 'kubelet_max_pods: 99\n' });
  const inv = await loadInventory(path.join(dir2, 'custom.ini'));
  assert.equal(inv.dir, dir2);
  assert.equal(inv.hostVars('node1').kubelet_max_pods, 99);
});

test('--strict turns Kubespray settings kprov lacks and unknown variables into errors, all at once', async () => {
  const files = { 'inventory.ini': SMALL_INI, 'group_vars/all.yml': 'kube_version: v1.13.5\nkube_netwrok_plugin: bridge\ndashboard_enabled: true\nhelm_enabled: false\n' };
  const lenient = await load(files);
  assert.deepEqual(lenient.warnings.map((w) => w.message), [
    'dashboard_enabled: a Kubespray setting kprov does not implement; your cluster will differ: kprov deploys no Kubernetes dashboard',
    'unknown variable kube_netwrok_plugin: neither kprov nor Kubespray uses it (did you mean kube_network_plugin?)',
  ]);
  const err = await loadError(files, { strict: true });
  assert.ok(err instanceof KprovErrorList);
  assert.deepEqual(err.errors.map((e) => [e.location?.line, e.message.split(':')[0]]), [[3, 'dashboard_enabled'], [2, 'unknown variable kube_netwrok_plugin']]);
  assert.match(err.errors[0]!.hint ?? '', /^--strict: /);
});

test("a network plugin other than kprov's own is an error saying what kprov provides", async () => {
  const err = await loadError({ 'inventory.ini': SMALL_INI, 'group_vars/all.yml': 'kube_network_plugin: calico\n' });
  assert.equal(err.where, 'group_vars/all.yml:1:1');
  assert.equal(err.message, 'kube_network_plugin: found "calico", expected one of bridge');
  assert.match(err.hint ?? '', /^kprov installs one pod network, its own: the CNI bridge plugin/);
});

test('the cluster view is the first control-plane host\'s; etcd settings come from the first etcd host', async () => {
  const inv = await load({
    'inventory.ini': `[all]
cp2 ansible_host=10.0.0.2
cp1 ansible_host=10.0.0.1
ed1 ansible_host=10.0.0.5
wk1 ansible_host=10.0.0.9
[kube_control_plane]
cp2
cp1
[etcd]
ed1
[kube_node]
wk1
`,
    'group_vars/etcd.yml': 'etcd_version: v3.3.10\netcd_deployment_type: static_pod\n',
    'host_vars/cp2.yml': 'bin_dir: /opt/bin\n',
  });
  assert.equal(inv.cluster.bin_dir, '/opt/bin');
  assert.equal(inv.cluster.etcd_version, 'v3.3.10');
  assert.equal(inv.cluster.etcd_deployment_type, 'static_pod');
  // Hosts outside etcd do not need to agree on etcd settings.
  assert.equal(inv.hostVars('wk1').etcd_version, 'v3.2.24');
  assert.equal('ansible_host' in inv.cluster, false);
});

test('a cluster-wide variable that differs between hosts is an error naming both and where each came from', async () => {
  const err = await loadError({
    'inventory.ini': SMALL_INI,
    'group_vars/all.yml': 'kube_service_addresses: 10.100.0.0/16\n',
    'host_vars/node2.yml': 'kube_service_addresses: 10.200.0.0/16\n',
  });
  assert.equal(err.where, 'host_vars/node2.yml:1:1');
  assert.equal(
    err.message,
    'kube_service_addresses differs between hosts: node1 has "10.100.0.0/16" (group_vars/all.yml:1), node2 has "10.200.0.0/16" (host_vars/node2.yml:1)',
  );
  const viaDefault = await loadError({ 'inventory.ini': SMALL_INI, 'host_vars/node2.yml': 'cluster_name: other.local\n' });
  assert.match(viaDefault.message, /^cluster_name differs between hosts: node1 has "cluster.local" \(kprov's default\), node2 has "other.local"/);
  // A derived value differs too when what it is derived from differs: the first difference is reported.
  assert.equal(viaDefault.where, 'host_vars/node2.yml:1:1');
});

test('an expression kprov needs that cannot be evaluated names file, line and expression', async () => {
  const err = await loadError({
    'inventory.ini': SMALL_INI,
    'group_vars/all/paths.yml': '# paths\nkube_config_dir: "{{ base_dir }}/kubernetes"\n',
  });
  assert.equal(err.where, 'group_vars/all/paths.yml:2:1');
  assert.equal(err.message, 'cannot evaluate kube_config_dir: "{{ base_dir }}/kubernetes": undefined variable base_dir');

  const through = await loadError({
    'inventory.ini': SMALL_INI,
    'group_vars/all.yml': 'my_base: "{{ nowhere }}"\nkube_config_dir: "{{ my_base }}/k8s"\n',
  });
  assert.equal(through.where, 'group_vars/all.yml:1:1');
  assert.equal(through.message, 'cannot evaluate kube_config_dir (through my_base): "{{ nowhere }}": undefined variable nowhere');
});

test('hostvars, groups and inventory_hostname are usable in expressions', async () => {
  const inv = await load({
    'inventory.ini': SMALL_INI.replace('node1 ansible_host=10.0.0.1', 'node1 ansible_host=10.0.0.1 ip=10.1.0.1'),
    'group_vars/all.yml': [
      "access_ip: \"{{ hostvars[inventory_hostname]['ip'] | default(ansible_host) }}\"",
      "supplementary_addresses_in_ssl_keys: \"{{ groups['kube_control_plane'] }}\"",
      '',
    ].join('\n'),
  });
  assert.equal(inv.hostVars('node1').access_ip, '10.1.0.1');
  assert.equal(inv.hostVars('node2').access_ip, '10.0.0.2');
  assert.deepEqual(inv.cluster.supplementary_addresses_in_ssl_keys, ['node1']);
});

test('Kubernetes settings need not agree on hosts outside k8s_cluster (a bastion)', async () => {
  const inv = await load({
    'inventory.ini': `${SMALL_INI.replace('[all]\n', '[all]\njump ansible_host=10.9.0.1\n')}\n[bastion]\njump\n`,
    'group_vars/k8s_cluster.yml': 'kube_version: v1.13.4\n',
  });
  assert.equal(inv.cluster.kube_version, 'v1.13.4');
  assert.equal(inv.hostVars('jump').kube_version, 'v1.13.5');
  assert.deepEqual(inv.groups['bastion'], ['jump']);
});

test('warnings: even etcd member count, no nodes, YAML duplicate keys', async () => {
  const inv = await load({
    'inventory.ini': '[all]\na ansible_host=10.0.0.1\nb ansible_host=10.0.0.2\n[kube_control_plane]\na\n[etcd]\na\nb\n',
    'group_vars/all.yml': 'kubelet_max_pods: 10\nkubelet_max_pods: 20\n',
  });
  assert.deepEqual(inv.warnings.map((w) => w.code), ['etcd-even', 'no-nodes', 'duplicate-key']);
  assert.equal(inv.hostVars('a').kubelet_max_pods, 20);
  assert.match(inv.warnings[0]!.message, /etcd has 2 members/);
});
