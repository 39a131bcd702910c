import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatError, KprovErrorList } from '../../../src/errors.js';
import { load, loadError, SMALL_INI } from './temp-inventory.js';

test("Kubespray's old defaults fail all at once, each with file:line and what to write instead", async () => {
  const err = await loadError({
    'inventory.ini': SMALL_INI,
    'group_vars/all/all.yml': 'etcd_deployment_type: docker\n',
    'group_vars/k8s-cluster/k8s-cluster.yml': 'kube_version: v1.14.3\ncontainer_manager: docker\n',
  });
  assert.ok(err instanceof KprovErrorList, err.message);
  const text = formatError(err, '/');
  assert.equal(err.errors.length, 3, text);
  const lines = err.errors.map((e) => [e.location?.file.replace(/^.*kprov-inv-[^/]+\//, ''), e.location?.line, e.message.split(':')[0], e.hint?.split(':')[0]]);
  assert.deepEqual(lines, [
    ['group_vars/all/all.yml', 1, 'etcd_deployment_type', "Kubespray's docker mode runs etcd in a Docker container; kprov runs it as a systemd unit or as kubeadm's static pod"],
    ['group_vars/k8s-cluster/k8s-cluster.yml', 1, 'kube_version', 'kprov provisions Kubernetes v1.13 only'],
    ['group_vars/k8s-cluster/k8s-cluster.yml', 2, 'container_manager', 'kprov installs containerd (with runc and the CNI plugins), not docker'],
  ]);
  // One mistake in a group file is one error, not one per host.
  assert.match(text, /\[node1, node2\] .*k8s-cluster\.yml:2:\d+: container_manager: found "docker"/);
  assert.match(text, /^3 problems found; fix them all and run again$/m);
});

test('kube_version with or without "v" (Kubespray master writes none)', async () => {
  const inv = await load({ 'inventory.ini': SMALL_INI, 'group_vars/all.yml': 'kube_version: 1.13.5\n' });
  assert.equal(inv.cluster.kube_version, 'v1.13.5');
  assert.equal(inv.hostVars('node1').kubectl_version, 'v1.13.5');
});

test("Kubespray master's expressions evaluate: its role defaults are known; URL templates are checked for what they produce", async () => {
  const inv = await load({
    'inventory.ini': SMALL_INI,
    'group_vars/k8s_cluster/k8s-cluster.yml': [
      'kube_service_addresses: 10.96.0.0/16',
      "kube_apiserver_ip: \"{{ kube_service_subnets.split(',') | first | ansible.utils.ipaddr('net') | ansible.utils.ipaddr(1) | ansible.utils.ipaddr('address') }}\"",
      "skydns_server: \"{{ kube_service_subnets.split(',') | first | ansible.utils.ipaddr('net') | ansible.utils.ipaddr(3) | ansible.utils.ipaddr('address') }}\"",
      '',
    ].join('\n'),
  });
  assert.equal(inv.cluster.kube_apiserver_ip, '10.96.0.1');
  assert.equal(inv.cluster.skydns_server, '10.96.0.3');

  const files = 'files_repo: http://mirror.example.test\nkube_version: v1.13.5\nkubelet_download_url: "{{ files_repo }}/release/v{{ kube_version }}/bin/linux/amd64/kubelet"\n';
  const err = await loadError({ 'inventory.ini': SMALL_INI, 'group_vars/all.yml': files });
  assert.equal(err.where, 'group_vars/all.yml:3:1');
  assert.match(err.message, /^kubelet_download_url: found "http:\/\/mirror\.example\.test\/release\/vv1\.13\.5\/bin\/linux\/amd64\/kubelet", expected a URL without a doubled v/);
  // Written without its v, as Kubespray master writes it, the same template gives the right URL.
  const ok = await load({ 'inventory.ini': SMALL_INI, 'group_vars/all.yml': files.replace('kube_version: v1.13.5', 'kube_version: 1.13.5') });
  assert.equal(ok.hostVars('node1').kubelet_download_url, 'http://mirror.example.test/release/v1.13.5/bin/linux/amd64/kubelet');
  assert.equal(ok.cluster.kube_version, 'v1.13.5');
});

test("the AWS Terraform layout: a bastion group and the ELB's name as apiserver_loadbalancer_domain_name", async () => {
  const { buildTopology } = await import('../../../src/cluster/topology.js');
  const { clusterPkiInput } = await import('../../../src/cluster/pki.js');
  const { planCertificates } = await import('../../../src/pki/index.js');
  const ini = [
    '[all]',
    'kubernetes-devtest-master0 ansible_host=10.250.193.40',
    'kubernetes-devtest-worker0 ansible_host=10.250.194.30',
    'kubernetes-devtest-etcd0 ansible_host=10.250.195.20',
    'bastion ansible_host=52.58.10.11',
    '',
    '[bastion]',
    'bastion ansible_host=52.58.10.11',
    '',
    '[kube-master]',
    'kubernetes-devtest-master0',
    '',
    '[kube-node]',
    'kubernetes-devtest-worker0',
    '',
    '[etcd]',
    'kubernetes-devtest-etcd0',
    '',
    '[k8s-cluster:children]',
    'kube-node',
    'kube-master',
    '',
    '[k8s-cluster:vars]',
    'apiserver_loadbalancer_domain_name="kubernetes-elb-devtest-1234.eu-central-1.elb.amazonaws.com"',
    '',
  ].join('\n');
  const alone = await load({ 'inventory.ini': ini });
  assert.match(alone.warnings.map((w) => w.message).join('\n'), /apiserver_loadbalancer_domain_name has no effect without loadbalancer_apiserver/);
  const inv = await load({ 'inventory.ini': ini, 'group_vars/all.yml': 'loadbalancer_apiserver:\n  address: 10.250.200.5\n  port: 443\n' });
  assert.deepEqual(inv.groups['bastion'], ['bastion']);
  assert.equal(buildTopology(inv).apiserverEndpoint, 'https://kubernetes-elb-devtest-1234.eu-central-1.elb.amazonaws.com:443');
  const apiserver = planCertificates(clusterPkiInput(inv)).find((s) => s.name === 'apiserver')!;
  assert.ok(apiserver.sans.dns.includes('kubernetes-elb-devtest-1234.eu-central-1.elb.amazonaws.com'));
  assert.ok(apiserver.sans.ip.includes('10.250.200.5'));
});
