import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import { isKprovError } from '../../../src/errors.js';
import { BRIDGE_SYSCTL_FILE, MODULES_LOAD_FILE } from '../../../src/roles/cni/bridge-netfilter.js';
import { CNI_CONFLIST, cniRole, POD_ROUTES_UNIT, renderCniFiles } from '../../../src/roles/cni/index.js';
import { cniSpecVersion, gatewayOf, podNetworkOf } from '../../../src/roles/cni/network.js';
import { parseRoutes, routeChanges, ROUTE_PROTO } from '../../../src/roles/cni/pod-routes.js';
import { runYaml } from '../engine/playbook-harness.js';
import { fakeArtifacts, loadCluster, nodeFleet, THREE_NODES } from './node-cluster.js';

const PLAYBOOK = `
- name: Pod network
  hosts: k8s_cluster
  roles: [cni]
`;
const render = createTemplateRenderer();

test('each node gets its slice of kube_pods_subnet, the slice gateway, and routes to every other slice via that node', async () => {
  const c = await loadCluster();
  const t = c.run().topology;
  const n1 = podNetworkOf(t, 'node1');
  assert.equal(n1.podCidr, '10.233.64.0/24');
  assert.equal(n1.gateway, '10.233.64.1');
  assert.deepEqual(
    n1.routes.map((r) => `${r.dst} via ${r.via} (${r.node})`),
    ['10.233.65.0/24 via 10.0.0.12 (node2)', '10.233.66.0/24 via 10.0.0.13 (node3)'],
  );
  const n3 = podNetworkOf(t, 'node3');
  assert.equal(n3.podCidr, '10.233.66.0/24');
  assert.deepEqual(n3.routes.map((r) => r.dst), ['10.233.64.0/24', '10.233.65.0/24']);

  const wide = await loadCluster(undefined, { kube_pods_subnet: '10.10.0.0/16', kube_network_node_prefix: 26 });
  const w = wide.run().topology;
  assert.deepEqual(w.nodes.map((n) => n.podCidr), ['10.10.0.0/26', '10.10.0.64/26', '10.10.0.128/26']);
  assert.equal(podNetworkOf(w, 'node2').gateway, '10.10.0.65');
  assert.equal(gatewayOf('fd00:10::/64'), 'fd00:10::1');
});

test('the conflist is valid JSON: loopback, bridge with host-local over the node CIDR, portmap; spec 0.3.1', async () => {
  const c = await loadCluster(undefined, { cni_version: 'v1.1.1' });
  const { conflist, routesUnit } = renderCniFiles({ render, run: c.run() }, 'node2');
  const conf = JSON.parse(conflist) as {
    cniVersion: string;
    name: string;
    plugins: { type: string; bridge?: string; isGateway?: boolean; ipMasq?: boolean; hairpinMode?: boolean; ipam?: { type: string; subnet: string; gateway: string; routes: { dst: string }[] }; capabilities?: Record<string, boolean> }[];
  };
  assert.equal(conf.cniVersion, '0.3.1');
  assert.equal(conf.name, 'kprov');
  assert.deepEqual(conf.plugins.map((p) => p.type), ['loopback', 'bridge', 'portmap']);
  const bridge = conf.plugins[1]!;
  assert.equal(bridge.bridge, 'cni0');
  assert.equal(bridge.isGateway, true);
  assert.equal(bridge.ipMasq, true);
  assert.equal(bridge.hairpinMode, true);
  assert.deepEqual(bridge.ipam, { type: 'host-local', subnet: '10.233.65.0/24', gateway: '10.233.65.1', routes: [{ dst: '0.0.0.0/0' }] });
  assert.deepEqual(conf.plugins[2]!.capabilities, { portMappings: true });

  const execs = routesUnit.split('\n').filter((l) => l.startsWith('ExecStart='));
  assert.deepEqual(execs, [
    `ExecStart=/sbin/ip -4 route replace 10.233.64.0/24 via 10.0.0.11 proto ${ROUTE_PROTO}`,
    `ExecStart=/sbin/ip -4 route replace 10.233.66.0/24 via 10.0.0.13 proto ${ROUTE_PROTO}`,
  ]);
  assert.match(routesUnit, /^Type=oneshot$/m);
  assert.match(routesUnit, /^RemainAfterExit=yes$/m);
  assert.match(routesUnit, /^WantedBy=multi-user\.target$/m);
});

test('a single node has no routes to keep, and its routes unit does nothing', async () => {
  const c = await loadCluster(`[all]\nsolo ansible_host=10.0.0.5\n[kube_control_plane]\nsolo\n[etcd]\nsolo\n[kube_node]\nsolo\n`);
  const { routesUnit } = renderCniFiles({ render, run: c.run() }, 'solo');
  assert.deepEqual(routesUnit.split('\n').filter((l) => l.startsWith('ExecStart=')), ['ExecStart=/bin/true']);
});

test('cni_version older than v0.6.0 is refused with the variable named', () => {
  assert.equal(cniSpecVersion('v0.7.5'), '0.3.1');
  assert.equal(cniSpecVersion('v1.1.1'), '0.3.1');
  assert.throws(() => cniSpecVersion('v0.5.2'), (e: unknown) => isKprovError(e) && /cni_version v0\.5\.2/.test(e.message));
});

test('routes: parsed from `ip -o route`, missing or wrong ones replaced, stale kprov ones deleted, others left alone', () => {
  const table = parseRoutes(
    [
      'default via 10.0.0.1 dev eth0',
      '10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.11',
      `10.233.65.0/24 via 10.0.0.12 dev eth0 proto ${ROUTE_PROTO}`,
      `10.233.66.0/24 via 10.0.0.99 dev eth0 proto ${ROUTE_PROTO}`,
      `10.233.70.0/24 via 10.0.0.20 dev eth0 proto ${ROUTE_PROTO}`,
      'blackhole 192.168.0.0/16',
      '10.9.9.9 via 10.0.0.1 dev eth0',
      '--- inet6',
      'fe80::/64 dev eth0 proto kernel metric 256 pref medium',
    ].join('\n'),
  );
  assert.deepEqual(table.find((r) => r.dst === '10.9.9.9/32')?.via, '10.0.0.1');
  assert.equal(table.find((r) => r.dst === '192.168.0.0/16')?.via, undefined);
  assert.equal(table.find((r) => r.dst === 'fe80::/64')?.family, 6);

  const wanted = [
    { dst: '10.233.65.0/24', via: '10.0.0.12', node: 'node2', family: 4 as const },
    { dst: '10.233.66.0/24', via: '10.0.0.13', node: 'node3', family: 4 as const },
    { dst: '10.233.67.0/24', via: '10.0.0.14', node: 'node4', family: 4 as const },
    { dst: '10.0.0.0/24', via: '10.0.0.15', node: 'odd', family: 4 as const },
  ];
  const changes = routeChanges(table, wanted);
  assert.deepEqual(
    changes.map((c) => `${c.action} ${c.dst}${c.via ? ` via ${c.via}` : ''}`),
    ['replace 10.233.66.0/24 via 10.0.0.13', 'replace 10.233.67.0/24 via 10.0.0.14', 'replace 10.0.0.0/24 via 10.0.0.15', 'delete 10.233.70.0/24'],
  );
  assert.match(changes[2]!.summary, /replacing "10\.0\.0\.0\/24 dev eth0 proto kernel/);
  assert.deepEqual(routeChanges(parseRoutes(`10.233.65.0/24 via 10.0.0.12 dev eth0 proto ${ROUTE_PROTO}\n`), wanted.slice(0, 1)), []);
});

test('cni: apply sets files, binaries and routes; re-apply is a no-op; a removed node loses its routes', async () => {
  const c = await loadCluster();
  c.artifacts = fakeArtifacts();
  const { fleet, routes } = nodeFleet(['node1', 'node2', 'node3']);
  const first = await runYaml(PLAYBOOK, { inventory: c.view, roles: [cniRole], fleet, run: c.run() });
  assert.equal(first.result.status, 'ok', JSON.stringify(first.of('host:finish')));
  const m2 = fleet.machine('node2');
  assert.equal(JSON.parse(m2.files.get(CNI_CONFLIST)!.content.toString()).plugins[1].ipam.subnet, '10.233.65.0/24');
  for (const p of ['bridge', 'host-local', 'loopback', 'portmap', 'tuning']) assert.equal(m2.files.get(`/opt/cni/bin/${p}`)?.mode, 0o755, p);
  assert.equal(m2.units.get(POD_ROUTES_UNIT)?.enabled, true);
  assert.equal(m2.files.get(MODULES_LOAD_FILE)?.content.toString(), 'br_netfilter\n');
  assert.match(m2.files.get(BRIDGE_SYSCTL_FILE)!.content.toString(), /bridge-nf-call-iptables = 1/);
  assert.deepEqual(m2.modules.size, 0, 'bridge netfilter was there: no modprobe');
  assert.deepEqual(
    routes.get('node2')!.lines.filter((l) => l.includes(`proto ${ROUTE_PROTO}`)),
    [`10.233.64.0/24 via 10.0.0.11 dev eth0 proto ${ROUTE_PROTO}`, `10.233.66.0/24 via 10.0.0.13 dev eth0 proto ${ROUTE_PROTO}`],
  );

  const snaps = new Map([...fleet.machines].map(([n, m]) => [n, m.snapshot()]));
  const again = await runYaml(PLAYBOOK, { inventory: c.view, roles: [cniRole], fleet, run: c.run() });
  assert.deepEqual(again.result.recap.map((r) => r.changed), [0, 0, 0]);
  for (const [n, m] of fleet.machines) assert.equal(m.snapshot(), snaps.get(n));

  const two = await loadCluster(THREE_NODES.replace('node3 ansible_host=10.0.0.13 ip=10.0.0.13\n', '').replace(/^node3\n/m, ''));
  two.artifacts = fakeArtifacts();
  const shrunk = await runYaml(PLAYBOOK, { inventory: two.view, roles: [cniRole], fleet, run: two.run() });
  assert.equal(shrunk.result.status, 'ok');
  assert.deepEqual(routes.get('node1')!.lines.filter((l) => l.includes(`proto ${ROUTE_PROTO}`)), [`10.233.65.0/24 via 10.0.0.12 dev eth0 proto ${ROUTE_PROTO}`]);
  assert.doesNotMatch(fleet.machine('node1').files.get(`/etc/systemd/system/${POD_ROUTES_UNIT}`)!.content.toString(), /10\.233\.66/);
});

test('cni: without bridge netfilter the module is loaded and its sysctls set', async () => {
  const c = await loadCluster();
  c.artifacts = fakeArtifacts();
  const { fleet } = nodeFleet(['node1', 'node2', 'node3']);
  const m = fleet.machine('node3');
  m.dirs.delete('/proc/sys/net/bridge');
  m.sysctls.set('net.bridge.bridge-nf-call-iptables', '0');
  const r = await runYaml(PLAYBOOK, { inventory: c.view, roles: [cniRole], fleet, run: c.run() });
  assert.equal(r.result.status, 'ok', JSON.stringify(r.of('host:finish')));
  assert.ok(m.modules.has('br_netfilter'));
  assert.equal(m.sysctls.get('net.bridge.bridge-nf-call-iptables'), '1');
  assert.equal(m.sysctls.get('net.bridge.bridge-nf-call-ip6tables'), '1');
});
