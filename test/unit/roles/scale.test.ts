/**
 * scale.yml's design, without hosts: the shipped playbook's plays with --limit on a new host, and
 * the pod-routes role giving the nodes outside the limit their routes to the new node and nothing
 * else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadPlaybook } from '../../../src/engine/playbook.js';
import { planRun } from '../../../src/engine/run-plan.js';
import { packageRoot } from '../../../src/paths.js';
import { builtinRoleRegistry } from '../../../src/roles/index.js';
import { cniRole, POD_ROUTES_UNIT } from '../../../src/roles/cni/index.js';
import { podRoutesRole } from '../../../src/roles/cni/routes-role.js';
import { scalePreflightRole } from '../../../src/roles/scale/index.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { ROUTE_PROTO } from '../../../src/roles/cni/pod-routes.js';
import { runYaml } from '../engine/playbook-harness.js';
import { fakeArtifacts, loadCluster, nodeFleet, THREE_NODES } from './node-cluster.js';

const FOUR_NODES = THREE_NODES.replace('node3 ansible_host=10.0.0.13 ip=10.0.0.13\n', 'node3 ansible_host=10.0.0.13 ip=10.0.0.13\nnode4 ansible_host=10.0.0.14 ip=10.0.0.14\n').replace(/^node3\n/m, 'node3\nnode4\n');

test('scale.yml with --limit node4: node4 in every play; every node gets its routes; node1 verifies through the API; control plane untouched', async () => {
  const c = await loadCluster(FOUR_NODES);
  const pb = await loadPlaybook(path.join(packageRoot, 'playbooks', 'scale.yml'));
  const plan = planRun(pb, c.view, builtinRoleRegistry(), { limit: 'node4' });
  const hosts = Object.fromEntries(plan.plays.map((p) => [p.play.name, p.hosts.map((h) => h.name).join(',')]));
  assert.deepEqual(hosts, {
    'Distribute the cluster SSH key': 'node4',
    'Facts and preflight checks': 'node4',
    'Container runtime': 'node4',
    'Pod network (CNI)': 'node4',
    'etcd, one member at a time': '',
    Nodes: 'node4',
    "Routes to the new nodes' pods": 'node1,node2,node3,node4',
    'Verify the new hosts': 'node1,node4',
  });
  const etcd = plan.plays.find((p) => p.play.name.startsWith('etcd'))!.play;
  assert.deepEqual([etcd.serial, etcd.maxFailPercentage], [{ count: 1 }, 0], 'etcd members join one at a time, each needed');
  assert.ok(!plan.plays.some((p) => p.roles.some((r) => r.role.name === 'control-plane' || r.role.name === 'dns')), 'scale does not reconfigure the control plane');
  // A node outside the limit that is down must not fail the new host's run.
  assert.ok(plan.plays.find((p) => p.roles[0]!.role.name === 'pod-routes')!.play.ignoreUnreachable);
});

test('pod-routes beyond --limit: the nodes already there get only their route to the new node (live and at boot), no restart', async () => {
  const three = await loadCluster();
  three.artifacts = fakeArtifacts();
  const { fleet, routes } = nodeFleet(['node1', 'node2', 'node3', 'node4']);
  const cni = '- name: Pod network\n  hosts: k8s_cluster\n  roles: [cni]\n';
  const built = await runYaml(cni, { inventory: three.view, roles: [cniRole], fleet, run: three.run() });
  assert.equal(built.result.status, 'ok', JSON.stringify(built.of('host:finish')));

  // node4 joins the inventory (and shares the pod-cidrs record with the three).
  const four = await loadCluster(FOUR_NODES);
  four.inventory = { ...four.inventory, dir: three.inventory.dir } as typeof four.inventory;
  four.view = { ...four.view, dir: three.inventory.dir };
  four.artifacts = fakeArtifacts();
  const before = new Map(['node1', 'node2', 'node3'].map((n) => [n, fleet.machine(n).snapshot()]));
  const callsBefore = new Map(['node1', 'node2', 'node3'].map((n) => [n, fleet.machine(n).calls.length]));
  const restartsBefore = new Map(['node1', 'node2', 'node3'].map((n) => [n, fleet.machine(n).restarts.length]));
  const scale = `${cni}- name: Routes\n  hosts: k8s_cluster\n  beyond_limit: k8s_cluster\n  roles: [pod-routes]\n`;
  const r = await runYaml(scale, { inventory: four.view, roles: [cniRole, podRoutesRole], fleet, run: four.run(), limit: 'node4' });
  assert.equal(r.result.status, 'ok', JSON.stringify(r.of('host:finish')));
  const changed = r.of('task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host} ${e.role}: ${e.task}`);
  for (const h of ['node1', 'node2', 'node3']) {
    const mine = changed.filter((c) => c.startsWith(`${h} `));
    assert.deepEqual(mine, [`${h} pod-routes: routes to the other nodes' pod networks (3)`, `${h} pod-routes: file /etc/systemd/system/${POD_ROUTES_UNIT}`, `${h} pod-routes: service ${POD_ROUTES_UNIT}`], changed.join('\n'));
    assert.ok(routes.get(h)!.lines.includes(`10.233.67.0/24 via 10.0.0.14 dev eth0 proto ${ROUTE_PROTO}`), routes.get(h)!.lines.join('\n'));
    assert.match(fleet.machine(h).files.get(`/etc/systemd/system/${POD_ROUTES_UNIT}`)!.content.toString(), /10\.233\.67\.0\/24 via 10\.0\.0\.14/);
    assert.notEqual(fleet.machine(h).snapshot(), before.get(h));
  }
  assert.ok(changed.some((c) => c.startsWith('node4 cni: ')), changed.join('\n'));
  for (const h of ['node1', 'node2', 'node3']) {
    const m = fleet.machine(h);
    const starts = m.calls.slice(callsBefore.get(h)).filter((c) => c.mutating && c.argv?.[0] === 'systemctl' && /start|stop/.test(c.argv.join(' ')));
    assert.deepEqual([starts, m.restarts.length], [[], restartsBefore.get(h)], `${h}: nothing starts, stops or restarts`);
  }

  const again = await runYaml(scale, { inventory: four.view, roles: [cniRole, podRoutesRole], fleet, run: four.run(), limit: 'node4' });
  assert.deepEqual(again.result.recap.map((x) => x.changed), [0, 0, 0, 0]);
});

test('scale-preflight: a control-plane host without kube-apiserver (new, or no cluster yet) stops the run at preflight, naming apply cluster', async () => {
  const c = await loadCluster(FOUR_NODES);
  const play = '- name: Facts and preflight checks\n  hosts: k8s_cluster\n  any_errors_fatal: true\n  roles: [scale-preflight]\n- name: later\n  hosts: k8s_cluster\n  roles: [pod-routes]\n';
  const fleet = new FakeFleet(['node1', 'node2', 'node3', 'node4']);
  const refused = await runYaml(play, { inventory: c.view, roles: [scalePreflightRole, podRoutesRole], fleet, run: c.run() });
  assert.equal(refused.result.status, 'failed');
  const failed = refused.of('host:finish').filter((e) => e.status === 'failed');
  assert.deepEqual(failed.map((e) => e.host), ['node1']);
  assert.match(failed[0]!.error!.message, /^node1 is a control-plane host without kube-apiserver\.service: scale adds workers and etcd members to a running cluster/);
  assert.match(failed[0]!.error!.hint ?? '', /kprov apply cluster/);
  assert.deepEqual(refused.of('play:skip').map((e) => e.play), ['later'], 'nothing after preflight ran');
  // The workers have no such task; with kube-apiserver installed, node1 passes.
  const tasks = Object.fromEntries(refused.of('host:tasks').map((e) => [e.host, e.tasks.length]));
  assert.equal(tasks['node4'], 0);
  fleet.machine('node1').units.set('kube-apiserver.service', { enabled: true, active: true });
  const ok = await runYaml(play.split('- name: later')[0]!, { inventory: c.view, roles: [scalePreflightRole], fleet, run: c.run() });
  assert.equal(ok.result.status, 'ok', JSON.stringify(ok.of('host:finish')));
});
