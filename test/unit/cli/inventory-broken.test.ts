/**
 * Every broken inventory under test/fixtures/inventories/broken/ is rejected by
 * `kprov inventory check` with exit 2, one or two lines, the file:line(:column) and the message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../../../src/paths.js';
import { runCli } from '../../support/run-cli.js';

const root = path.join(packageRoot, 'test', 'fixtures', 'inventories', 'broken');

interface Case {
  /** file[:line[:column]] relative to the inventory. */
  where: string;
  message: RegExp;
}

const CASES: Readonly<Record<string, Case>> = {
  'section-header-unclosed': { where: 'inventory.ini:12:1', message: /^bad section header "\[kube_node"; expected \[group\], \[group:children\] or \[group:vars\]$/ },
  'section-kind-unknown': { where: 'inventory.ini:12:12', message: /^unknown section kind ":hosts" in \[kube_node:hosts\]; expected \[kube_node\], \[kube_node:children\] or \[kube_node:vars\]$/ },
  'range-start-after-end': { where: 'inventory.ini:2:7', message: /^range "\[5:1\]" must have start <= end \(in \[all\]\)$/ },
  'range-width-mismatch': { where: 'inventory.ini:2:7', message: /^range "\[01:100\]": zero-padded start and end must have the same width/ },
  'range-not-numbers': { where: 'inventory.ini:2:7', message: /^bad range "\[1-3\]"; expected \[start:end\] or \[start:end:step\]/ },
  'range-unclosed': { where: 'inventory.ini:2:7', message: /^"\[" without a matching "\]"/ },
  'children-cycle': { where: 'inventory.ini:17:1', message: /^cycle in :children: kube_node → workers → kube_node$/ },
  'children-undefined-group': { where: 'inventory.ini:18:1', message: /^group kube_nodes in \[k8s_cluster:children\] is not defined: there is no \[kube_nodes\] section$/ },
  'vars-undefined-group': { where: 'inventory.ini:17:1', message: /^\[kube_nodes:vars\] sets variables for group kube_nodes, which has no \[kube_nodes\] or \[kube_nodes:children\] section$/ },
  'host-not-in-all': { where: 'inventory.ini:15:1', message: /^host node6 in \[kube_node\] is not defined in \[all\]$/ },
  'quote-unterminated': { where: 'inventory.ini:4:20', message: /^unterminated quote: found " with no closing " on the same line$/ },
  'host-var-not-key-value': { where: 'inventory.ini:3:7', message: /^expected key=value after the host name, found "ansible_host"$/ },
  'host-list-with-commas': { where: 'inventory.ini:13:6', message: /^invalid host name "node2,node3": "," is not allowed; .*\(list one host per line\)/ },
  'host-port-out-of-range': { where: 'inventory.ini:13:7', message: /^port 70000 is out of range; expected 1-65535/ },
  'vars-line-without-equals': { where: 'inventory.ini:17:1', message: /^expected key=value in \[all:vars\], found "ansible_user ubuntu"$/ },
  'yaml-syntax-error': { where: 'group_vars/all.yml:3:1', message: /^YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a \]$/ },
  'yaml-not-a-mapping': { where: 'group_vars/k8s_cluster.yml:1:1', message: /^expected a mapping of variable names to values, found a list$/ },
  'yaml-bad-variable-name': { where: 'group_vars/all/all.yml:2:1', message: /^invalid variable name "kube version"; expected letters, digits and _$/ },
  'vault-encrypted-file': { where: 'group_vars/all/vault.yml:1', message: /^the file is encrypted with ansible-vault, which kprov cannot read$/ },
  'type-port-not-a-number': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:2:1', message: /^kube_apiserver_port: found "https", expected a port number \(1-65535\)$/ },
  'type-bool': { where: 'group_vars/all/all.yml:2:1', message: /^download_localhost: found "maybe", expected true or false \(or yes\/no\)$/ },
  'type-vars-section-int': { where: 'inventory.ini:17:1', message: /^kubelet_max_pods: found "lots", expected a number of pods \(1-10000\)$/ },
  'type-loadbalancer-port': { where: 'group_vars/all/all.yml:1:1', message: /^loadbalancer_apiserver\.port: found "high", expected a port number \(1-65535\)$/ },
  'type-ip-invalid': { where: 'inventory.ini:3:30', message: /^ip: found "10\.0\.0\.300", expected an IP address$/ },
  'container-manager-docker': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:1:1', message: /^container_manager: found "docker", expected containerd/ },
  'cidr-invalid': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:1:1', message: /^kube_service_addresses: found "10\.233\.0\.0\/33", expected a CIDR such as 10\.233\.0\.0\/18$/ },
  'cidr-host-bits': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:1:1', message: /^kube_pods_subnet: found 10\.233\.64\.5\/18, which has host bits set; expected a network address such as 10\.233\.64\.0\/18$/ },
  'cidr-overlap': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:2:1', message: /^kube_pods_subnet 10\.233\.0\.0\/16 overlaps kube_service_addresses 10\.233\.0\.0\/18; expected disjoint ranges$/ },
  'node-prefix-too-short': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:2:1', message: /^kube_network_node_prefix: found 16, expected a prefix between the pod network's \/18 and \/30$/ },
  'kube-version-1-14': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:2:1', message: /^kube_version: found "v1\.14\.0", expected v1\.13\.x \(v1\.13\.0 … v1\.13\.12\): kprov deploys Kubernetes v1\.13 only$/ },
  'address-duplicate': { where: 'inventory.ini:4:7', message: /^hosts node2 and node3 have the same address 10\.0\.0\.12; expected one address per host$/ },
  'ip-duplicate': { where: 'inventory.ini:4:30', message: /^hosts node1 and node3 have the same ip 10\.0\.0\.11; expected one address per host$/ },
  'ip-inside-service-range': { where: 'inventory.ini:4:30', message: /^node3's ip 10\.233\.0\.7 lies inside kube_service_addresses 10\.233\.0\.0\/18/ },
  'expression-undefined-variable': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:2:1', message: /^cannot evaluate kube_cert_dir: "\{\{ kube_config_dirr \}\}\/ssl": undefined variable kube_config_dirr$/ },
  'expression-syntax-error': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:2:1', message: /^cannot evaluate dns_domain: "\{\{ cluster_name \| \}\}": syntax error: / },
  'expression-cycle': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:2:1', message: /^variable cycle: cluster_name → dns_domain → cluster_name$/ },
  'expression-bad-filter-arg': { where: 'group_vars/k8s_cluster/k8s-cluster.yml:1:1', message: /^cannot evaluate skydns_server: "\{\{ kube_service_addresses \| ipaddr\('nett'\) \}\}": ipaddr: unknown filter type: nett$/ },
  'cluster-wide-conflict': { where: 'host_vars/node3.yml:2:1', message: /^kube_version differs between hosts: node1 has "v1\.13\.5" \(group_vars\/k8s_cluster\.yml:1\), node3 has "v1\.13\.4" \(host_vars\/node3\.yml:2\)$/ },
  'no-hosts': { where: 'inventory.ini', message: /^the inventory defines no hosts; expected at least one host line$/ },
  'no-control-plane': { where: 'inventory.ini', message: /^no host is in kube_control_plane \(kube-master\); expected at least one$/ },
  'no-etcd': { where: 'inventory.ini', message: /^no host is in etcd; expected 1, 3 or 5 etcd members$/ },
  'etcd-member-name-duplicate': { where: 'inventory.ini:11:7', message: /^etcd_member_name etcd1 is used by both node1 and node2; expected unique names$/ },
  'not-utf8': { where: 'inventory.ini:13:6', message: /^cannot read the file: it is not UTF-8 text$/ },
  'inventory-is-a-directory': { where: 'inventory.ini', message: /^cannot read the file: it is a directory, expected a file$/ },
  'vars-file-dangling-symlink': { where: 'group_vars/all.yml', message: /^cannot read the file: the file does not exist \(a dangling symbolic link\?\)$/ },
  'key-file-missing': { where: 'group_vars/all.yml:2:1', message: /^ansible_ssh_private_key_file: "keys\/id_missing" \(\/.*\/key-file-missing\/keys\/id_missing\) does not exist; expected a readable SSH private key file$/ },
  'key-file-directory': { where: 'inventory.ini:2:30', message: /^ansible_private_key_file: "keys" \(\/.*\/key-file-directory\/keys\) is a directory, not a key file; expected a readable SSH private key file$/ },
  'key-file-not-a-key': { where: 'inventory.ini:15:1', message: /^ansible_ssh_private_key_file: "keys\/notes\.txt" \(.*\) is not an SSH private key \(Unsupported key format\); expected a readable SSH private key file$/ },
  'key-file-public': { where: 'host_vars/node2.yml:1:1', message: /^ansible_ssh_private_key_file: "keys\/id_ed25519\.pub" \(.*\) holds a public key, not the private one; expected a readable SSH private key file$/ },
  'yaml-inventory-no-control-plane': { where: 'hosts.yaml', message: /^no host is in kube_control_plane \(kube-master\); expected at least one$/ },
};

const ERROR_LINE = /^error: (?:\[[^\]]+\] )?(?<where>[^ ]+): (?<message>.+)$/;

test('every fixture under broken/ has an expectation, and there are at least 30', async () => {
  const dirs = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  assert.deepEqual(dirs, Object.keys(CASES).sort());
  assert.ok(dirs.length >= 30, `${dirs.length} broken inventories`);
});

for (const [name, expected] of Object.entries(CASES)) {
  test(`broken/${name}: exit 2 at ${expected.where}`, async () => {
    const dir = path.join(root, name);
    const r = await runCli(['inventory', 'check', '-i', dir], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.ok(lines.length <= 2, `at most two lines:\n${r.stderr}`);
    assert.ok(!/\bat .+:\d+:\d+\)?$/m.test(r.stderr), `no stack trace:\n${r.stderr}`);
    const m = ERROR_LINE.exec(lines[0]!);
    assert.ok(m?.groups, `error line: ${lines[0]}`);
    assert.equal(m.groups['where'], expected.where);
    assert.match(m.groups['message']!, expected.message);
  });
}
