/** kube-proxy's iptables rules as v1.13 lays them out: chain names, probabilities, masquerade, cleanup. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainLines, endpointChainName, masqueradeMark, probability, restoreText, serviceChainName, servicePorts, type Endpoints, type Service } from '../../../dev/standin/kube-proxy/rules.js';

const svc = (name: string, spec: Service['spec'], ns = 'apps'): Service => ({ metadata: { name, namespace: ns }, spec });
const eps = (name: string, ips: string[], ports: Array<{ name?: string; port: number }>, ns = 'apps'): Endpoints => ({
  metadata: { name, namespace: ns },
  subsets: ips.length === 0 ? [] : [{ addresses: ips.map((ip) => ({ ip })), ports }],
});
const settings = { masqueradeBit: 14, masqueradeAll: false, clusterCIDR: '10.233.64.0/18' };

test('chain names are v1.13\'s: sha256 of port name + protocol, base32, 16 characters', () => {
  // The well-known chain of default/kubernetes:https on every v1.13 cluster.
  assert.equal(serviceChainName('default/kubernetes:https', 'tcp'), 'KUBE-SVC-NPX46M4PTMTKRN6Y');
  assert.match(endpointChainName('default/kubernetes:https', 'tcp', '10.0.0.1:6443'), /^KUBE-SEP-[A-Z2-7]{16}$/);
  assert.notEqual(endpointChainName('a/b:', 'tcp', '1.1.1.1:80'), endpointChainName('a/b:', 'tcp', '1.1.1.2:80'));
  assert.equal(probability(2), '0.50000');
  assert.equal(probability(3), '0.33333');
  assert.equal(masqueradeMark(14), '0x00004000/0x00004000');
  assert.equal(masqueradeMark(0), '0x00000001/0x00000001');
});

test('service ports take their endpoints by port name; headless and ExternalName services are skipped', () => {
  const ports = servicePorts(
    [
      svc('web', { clusterIP: '10.233.0.50', type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP' }] }),
      svc('headless', { clusterIP: 'None', ports: [{ port: 80 }] }),
      svc('ext', { type: 'ExternalName', ports: [{ port: 80 }] }),
    ],
    [eps('web', ['10.233.64.5', '10.233.65.7'], [{ name: 'http', port: 8080 }])],
  );
  assert.deepEqual(ports.map((p) => [p.name, p.protocol, p.endpoints]), [
    ['apps/web:dns', 'udp', []],
    ['apps/web:http', 'tcp', ['10.233.64.5:8080', '10.233.65.7:8080']],
  ]);
});

test('a ClusterIP+NodePort service with two endpoints: the v1.13 nat and filter rules', () => {
  const ports = servicePorts([svc('web', { clusterIP: '10.233.0.50', type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })], [eps('web', ['10.233.64.5', '10.233.65.7'], [{ port: 8080 }])]);
  const text = restoreText({ ports, settings, existingFilter: new Map(), existingNat: new Map() });
  const svcChain = serviceChainName('apps/web:', 'tcp');
  const [sepA, sepB] = ['10.233.64.5:8080', '10.233.65.7:8080'].map((e) => endpointChainName('apps/web:', 'tcp', e));
  const lines = text.split('\n');
  assert.equal(lines[0], '*filter');
  assert.ok(lines.includes(':KUBE-SERVICES - [0:0]'));
  assert.ok(lines.includes(`:${svcChain} - [0:0]`));
  for (const expected of [
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -m mark --mark 0x00004000/0x00004000 -j MASQUERADE',
    '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x00004000/0x00004000',
    '-A KUBE-SERVICES -m comment --comment "apps/web: cluster IP" -m tcp -p tcp -d 10.233.0.50/32 --dport 80 ! -s 10.233.64.0/18 -j KUBE-MARK-MASQ',
    `-A KUBE-SERVICES -m comment --comment "apps/web: cluster IP" -m tcp -p tcp -d 10.233.0.50/32 --dport 80 -j ${svcChain}`,
    '-A KUBE-NODEPORTS -m comment --comment apps/web: -m tcp -p tcp --dport 30080 -j KUBE-MARK-MASQ',
    `-A KUBE-NODEPORTS -m comment --comment apps/web: -m tcp -p tcp --dport 30080 -j ${svcChain}`,
    `-A ${svcChain} -m comment --comment apps/web: -m statistic --mode random --probability 0.50000 -j ${sepA}`,
    `-A ${svcChain} -m comment --comment apps/web: -j ${sepB}`,
    `-A ${sepA} -m comment --comment apps/web: -s 10.233.64.5/32 -j KUBE-MARK-MASQ`,
    `-A ${sepA} -m comment --comment apps/web: -m tcp -p tcp -j DNAT --to-destination 10.233.64.5:8080`,
    `-A ${sepB} -m comment --comment apps/web: -m tcp -p tcp -j DNAT --to-destination 10.233.65.7:8080`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT',
  ]) {
    assert.ok(lines.includes(expected), `missing: ${expected}\n${text}`);
  }
  // The node-port jump is the last rule of nat KUBE-SERVICES; both tables are committed.
  const natServices = lines.filter((l) => l.startsWith('-A KUBE-SERVICES')).pop();
  assert.match(natServices!, /addrtype --dst-type LOCAL -j KUBE-NODEPORTS$/);
  assert.equal(lines.filter((l) => l === 'COMMIT').length, 2);
  assert.ok(!text.includes('REJECT'));
});

test('masqueradeAll marks every cluster-IP packet; no clusterCIDR, no off-cluster rule', () => {
  const ports = servicePorts([svc('web', { clusterIP: '10.233.0.50', ports: [{ port: 80 }] })], [eps('web', ['10.1.0.1'], [{ port: 80 }])]);
  const all = restoreText({ ports, settings: { ...settings, masqueradeAll: true }, existingFilter: new Map(), existingNat: new Map() });
  assert.match(all, /--dport 80 -j KUBE-MARK-MASQ\n/);
  const none = restoreText({ ports, settings: { ...settings, clusterCIDR: '' }, existingFilter: new Map(), existingNat: new Map() });
  assert.ok(!/cluster IP.*KUBE-MARK-MASQ/.test(none));
  assert.ok(!none.includes('conntrack'));
});

test('a service without endpoints is rejected in filter; chains of deleted services are flushed and removed; counters kept', () => {
  const ports = servicePorts([svc('idle', { clusterIP: '10.233.0.60', type: 'NodePort', ports: [{ port: 80, nodePort: 30090 }] })], []);
  const old = serviceChainName('apps/gone:', 'tcp');
  const oldSep = endpointChainName('apps/gone:', 'tcp', '10.1.0.9:80');
  const existingNat = chainLines(`*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [5:300]\n:${old} - [1:60]\n:${oldSep} - [1:60]\n:KUBE-OTHER - [0:0]\nCOMMIT\n`);
  const text = restoreText({ ports, settings, existingFilter: new Map(), existingNat });
  assert.ok(text.includes('-A KUBE-SERVICES -m comment --comment "apps/idle: has no endpoints" -m tcp -p tcp -d 10.233.0.60/32 --dport 80 -j REJECT'));
  assert.ok(text.includes('-A KUBE-EXTERNAL-SERVICES -m comment --comment "apps/idle: has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30090 -j REJECT'));
  assert.ok(text.includes(`:${old} - [1:60]\n`) && text.includes(`-X ${old}\n`) && text.includes(`-X ${oldSep}\n`));
  assert.ok(!text.includes('KUBE-OTHER'), 'chains that are not kube-proxy\'s are left alone');
  assert.ok(text.includes(':KUBE-SERVICES - [5:300]'));
  assert.ok(!text.includes('apps/idle: cluster IP'));
});

test('the jump rules are recognised in iptables-save output, so a steady node runs no iptables -C', async () => {
  const { JUMP_RULES } = await import('../../../dev/standin/kube-proxy/rules.js');
  const { savedRuleText } = await import('../../../dev/standin/kube-proxy/proxier.js');
  // As iptables 1.8.9 (nft) prints them.
  assert.deepEqual(JUMP_RULES.map((j) => savedRuleText(j.chain, j.args)), [
    '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
  ]);
});
