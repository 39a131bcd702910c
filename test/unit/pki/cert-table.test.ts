import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KprovError } from '../../../src/errors.js';
import { parsePkiInput, planCertificates, type CertSpec } from '../../../src/pki/index.js';
import { firstAddressOf } from '../../../src/pki/addresses.js';
import { smallCluster } from '../../support/pki-small-cluster.js';

const byName = (specs: CertSpec[], name: string): CertSpec => {
  const s = specs.find((x) => x.name === name);
  assert.ok(s, `spec ${name}`);
  return s;
};

test('the plan has every CA, key pair, certificate and identity of kubeadm v1.13', () => {
  const specs = planCertificates(smallCluster());
  assert.deepEqual(
    specs.map((s) => s.name),
    [
      'ca', 'front-proxy-ca', 'etcd/ca', 'sa',
      'apiserver', 'apiserver-kubelet-client', 'apiserver-etcd-client', 'front-proxy-client',
      'etcd/server-cp1', 'etcd/peer-cp1', 'etcd/server-cp2', 'etcd/peer-cp2', 'etcd/healthcheck-client',
      'admin', 'controller-manager', 'scheduler', 'kube-proxy',
      'kubelet/cp1-client', 'kubelet/cp1-server', 'kubelet/cp2-client', 'kubelet/cp2-server', 'kubelet/w1-client', 'kubelet/w1-server',
    ],
  );
  const table: [string, string | undefined, string, string[], string[]][] = [
    // name, issuer, CN, O, EKUs
    ['ca', undefined, 'kubernetes', [], []],
    ['front-proxy-ca', undefined, 'front-proxy-ca', [], []],
    ['etcd/ca', undefined, 'etcd-ca', [], []],
    ['apiserver', 'ca', 'kube-apiserver', [], ['serverAuth']],
    ['apiserver-kubelet-client', 'ca', 'kube-apiserver-kubelet-client', ['system:masters'], ['clientAuth']],
    ['apiserver-etcd-client', 'etcd/ca', 'kube-apiserver-etcd-client', ['system:masters'], ['clientAuth']],
    ['front-proxy-client', 'front-proxy-ca', 'front-proxy-client', [], ['clientAuth']],
    ['etcd/server-cp1', 'etcd/ca', 'cp1', [], ['serverAuth', 'clientAuth']],
    ['etcd/peer-cp2', 'etcd/ca', 'cp2', [], ['serverAuth', 'clientAuth']],
    ['etcd/healthcheck-client', 'etcd/ca', 'kube-etcd-healthcheck-client', ['system:masters'], ['clientAuth']],
    ['admin', 'ca', 'kubernetes-admin', ['system:masters'], ['clientAuth']],
    ['controller-manager', 'ca', 'system:kube-controller-manager', [], ['clientAuth']],
    ['scheduler', 'ca', 'system:kube-scheduler', [], ['clientAuth']],
    ['kube-proxy', 'ca', 'system:kube-proxy', ['system:node-proxier'], ['clientAuth']],
    ['kubelet/w1-client', 'ca', 'system:node:w1', ['system:nodes'], ['clientAuth']],
    ['kubelet/w1-server', 'ca', 'w1', [], ['serverAuth']],
  ];
  for (const [name, issuer, cn, o, eku] of table) {
    const s = byName(specs, name);
    assert.equal(s.issuer, issuer, `${name} issuer`);
    assert.equal(s.commonName, cn, `${name} CN`);
    assert.deepEqual(s.organizations, o, `${name} O`);
    assert.deepEqual(s.extKeyUsages, eku, `${name} EKU`);
    assert.equal(s.kind, issuer === undefined ? 'ca' : 'leaf');
    assert.deepEqual(s.files, { cert: `${name}.crt`, key: `${name}.key` });
    assert.equal(s.validityDays, issuer === undefined ? 3650 : 365);
    assert.equal(s.keyAlgorithm, 'ecdsa-p256');
  }
  const sa = byName(specs, 'sa');
  assert.equal(sa.kind, 'keypair');
  assert.deepEqual(sa.files, { key: 'sa.key', pub: 'sa.pub' });
  assert.deepEqual(specs.filter((s) => s.kubeconfig).map((s) => s.kubeconfig!.file), [
    'admin.conf', 'controller-manager.conf', 'scheduler.conf', 'kube-proxy.conf',
    'kubelet-cp1.conf', 'kubelet-cp2.conf', 'kubelet-w1.conf',
  ]);
});

test('apiserver SANs: service names, first service IP, every control-plane name and address, LB, supplementary', () => {
  const s = byName(planCertificates(smallCluster()), 'apiserver');
  assert.deepEqual(s.sans.dns, [
    'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local',
    'localhost', 'cp1', 'cp1.example.test', 'cp2', 'lb.kprov.test', 'api.example.test',
  ]);
  assert.deepEqual(s.sans.ip, ['10.233.0.1', '127.0.0.1', '10.0.0.1', '192.0.2.1', '10.0.0.2', '10.0.0.100', '203.0.113.7']);
});

test('etcd member and kubelet serving SANs are typed DNS vs IP and stay per host', () => {
  const specs = planCertificates(smallCluster());
  assert.deepEqual(byName(specs, 'etcd/server-cp1').sans, {
    dns: ['cp1', 'cp1.example.test', 'localhost'],
    ip: ['10.0.0.1', '192.0.2.1', '127.0.0.1', '::1'],
  });
  assert.deepEqual(byName(specs, 'etcd/peer-cp2').sans, { dns: ['cp2', 'localhost'], ip: ['10.0.0.2', '127.0.0.1', '::1'] });
  assert.deepEqual(byName(specs, 'kubelet/w1-server').sans, { dns: ['w1'], ip: ['10.0.0.11'] });
  assert.equal(byName(specs, 'etcd/server-cp1').host, 'cp1');
  assert.equal(byName(specs, 'kubelet/w1-client').host, 'w1');
});

test('first service address: IPv4 and IPv6, host bits ignored', () => {
  assert.equal(firstAddressOf('10.233.0.0/18'), '10.233.0.1');
  assert.equal(firstAddressOf('10.96.0.0/12'), '10.96.0.1');
  assert.equal(firstAddressOf('10.96.5.7/12'), '10.96.0.1');
  assert.equal(firstAddressOf('fd00:10:96::/112'), 'fd00:10:96::1');
  assert.equal(firstAddressOf('10.255.255.0/31'), '10.255.255.1');
});

test('IPv6 addresses are canonical in the plan, duplicates dropped', () => {
  const s = byName(planCertificates(smallCluster({ supplementaryAddresses: ['2001:DB8:0:0::5', '2001:db8::5', 'CP1'] })), 'apiserver');
  assert.ok(s.sans.ip.includes('2001:db8::5'));
  assert.equal(s.sans.ip.filter((x) => x === '2001:db8::5').length, 1);
  assert.equal(s.sans.dns.filter((x) => x === 'cp1').length, 1);
});

test('keyAlgorithm and validity come from the input; the SA key stays RSA', () => {
  const specs = planCertificates(smallCluster({ keyAlgorithm: 'rsa-2048', validityDays: 100, caValidityDays: 1000 }));
  assert.equal(byName(specs, 'apiserver').keyAlgorithm, 'rsa-2048');
  assert.equal(byName(specs, 'apiserver').validityDays, 100);
  assert.equal(byName(specs, 'ca').validityDays, 1000);
  assert.equal(byName(specs, 'sa').keyAlgorithm, 'rsa-2048');
  assert.equal(byName(planCertificates(smallCluster()), 'apiserver').keyAlgorithm, 'ecdsa-p256', 'ECDSA P-256 by default');
  assert.equal(byName(planCertificates(smallCluster()), 'sa').keyAlgorithm, 'rsa-2048', 'the SA key is RSA by default too');
});

test('remote paths follow the input\'s directories (kube_cert_dir, etcd_cert_dir, kube_config_dir)', () => {
  const specs = planCertificates(smallCluster({ remoteDirs: { cert: '/srv/k8s/certs/', etcdCert: '/srv/etcd/tls', config: '/srv/k8s' } }));
  const paths = specs.flatMap((s) => [
    ...s.recipients.flatMap((r) => r.deliveries.map((d) => d.remotePath)),
    ...(s.kubeconfig?.recipients.map((r) => r.remotePath) ?? []),
  ]);
  assert.ok(paths.includes('/srv/k8s/certs/apiserver.crt'), 'trailing slash dropped');
  assert.ok(paths.includes('/srv/etcd/tls/server.key'));
  assert.ok(paths.includes('/srv/etcd/tls/ca.crt'));
  assert.ok(paths.includes('/srv/k8s/admin.conf'));
  assert.ok(paths.includes('/var/lib/kubelet/pki/kubelet.crt'), 'the kubelet dir keeps its default');
  assert.ok(paths.every((p) => !p.startsWith('/etc/kubernetes')), paths.join(' '));
  assert.throws(() => smallCluster({ remoteDirs: { cert: 'relative/dir' } }), /remoteDirs\.cert: must be an absolute path/);
  assert.throws(() => smallCluster({ remoteDirs: { cert: '/etc/../tmp' } }), /must not contain/);
});

test('bad input is a KprovError naming the field and the source', () => {
  const base = { clusterName: 'c', dnsDomain: 'cluster.local', serviceCidr: '10.233.0.0/18', apiserverEndpoint: 'https://x:6443' };
  const host = { name: 'h1', address: '10.0.0.1' };
  const cases: [unknown, RegExp][] = [
    [{ ...base, controlPlane: [], etcd: [{ ...host, memberName: 'e' }], nodes: [] }, /controlPlane: at least one/],
    [{ ...base, serviceCidr: '10.233.0.0', controlPlane: [host], etcd: [{ ...host, memberName: 'e' }], nodes: [] }, /serviceCidr/],
    [{ ...base, controlPlane: [{ name: '../x', address: 'a' }], etcd: [{ ...host, memberName: 'e' }], nodes: [] }, /controlPlane\.0\.name/],
    [{ ...base, controlPlane: [{ ...host, ip: 'not-an-ip' }], etcd: [{ ...host, memberName: 'e' }], nodes: [] }, /controlPlane\.0\.ip/],
    [{ ...base, controlPlane: [host, host], etcd: [{ ...host, memberName: 'e' }], nodes: [] }, /listed twice/],
    [{ ...base, apiserverEndpoint: 'http://x', controlPlane: [host], etcd: [{ ...host, memberName: 'e' }], nodes: [] }, /apiserverEndpoint/],
    [{ ...base, validityDays: 10, controlPlane: [host], etcd: [{ ...host, memberName: 'e' }], nodes: [] }, /validityDays/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(
      () => parsePkiInput(value, 'inventory/x/hosts.ini'),
      (err: unknown) => err instanceof KprovError && err.code === 'pki' && pattern.test(err.message) && err.location?.file === 'inventory/x/hosts.ini',
      String(pattern),
    );
  }
});
