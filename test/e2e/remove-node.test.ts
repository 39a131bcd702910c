/**
 * `kprov apply remove-node` on a 4-host lab (node1 control plane + etcd, node2 and node3 etcd,
 * all four nodes):
 *   0. with node2's etcd stopped, removing node3 would leave one healthy member of two: refused
 *      with the numbers, nothing changed;
 *   1. -e node=node3 (an etcd member and a worker running a pod): drained (its pod evicted),
 *      its etcd member removed (2 of 2 staying members healthy), the host reset, its Node
 *      deleted, the other nodes' routes to its pod CIDR gone; etcd 2 healthy members, 3 Ready nodes;
 *   2. -e node=node4 with node4 dead (its container killed): removed from the cluster without its
 *      host steps, saying so; exit 0; 2 nodes left;
 *   3. node3 and node4 deleted from the inventory: `apply cluster` does not bring them back and
 *      keeps the other slices.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pinVariables, startClusterLab } from '../../dev/cluster-lab.js';
import type { RunEvent } from '../../src/engine/events.js';
import { readLabState } from '../../src/lab/state.js';
import { labSkipReason } from '../support/lab.js';
import { eventsOf, hostFailures, parseRunEvents } from '../support/run-events.js';
import { ETCD_TLS, HOST_KUBECTL } from '../support/converged.js';

const NAME = 'e2e-rmnode';
const HOSTS = ['node1', 'node2', 'node3', 'node4'];
const of = eventsOf;

const failures = hostFailures;

const parse = parseRunEvents;

test('remove-node: a worker and etcd member drained and removed, a dead node removed without its host steps, quorum kept', { skip: labSkipReason(), timeout: 1_200_000 }, async () => {
  const lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
  try {
    const ips = Object.fromEntries(lab.hosts.map((h) => [h.name, h.address]));
    const line = (h: string) => `${h} ansible_host=${ips[h]} ip=${ips[h]} access_ip=${ips[h]}`;
    const inventory = (hosts: string[], etcd: string[]) =>
      `[all]\n${hosts.map(line).join('\n')}\n\n[kube_control_plane]\nnode1\n\n[etcd]\n${etcd.join('\n')}\n\n[kube_node]\n${hosts.join('\n')}\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`;
    await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventory(HOSTS, ['node1', 'node2', 'node3']));
    // No cluster DNS: this test is about hosts leaving, and CoreDNS would only add time.
    await pinVariables(lab.inventoryDir, { dns_mode: 'none' });
    const kprov = async (args: string[]) => {
      const started = Date.now();
      const r = await lab.kprov([...args, '-i', lab.inventoryDir, '--json'], { timeoutMs: 900_000 });
      return { ...r, events: parse(r.stdout), ms: Date.now() - started };
    };
    const fresh = await kprov(['apply', 'cluster']);
    assert.equal(fresh.code, 0, failures(fresh));
    const slices = JSON.parse(await readFile(path.join(lab.inventoryDir, 'state', 'pod-cidrs.json'), 'utf8')) as { nodes: Record<string, string> };
    const kubectl = (args: string[]) => lab.exec('node1', [...HOST_KUBECTL, ...args], { timeoutMs: 60_000 });
    const members = async () => {
      const r = await lab.exec('node1', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, `--endpoints=https://${ips['node1']}:2379`, 'member', 'list', '-w', 'simple'], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim().split('\n').map((l) => l.split(', ')[2]).sort();
    };
    assert.deepEqual(await members(), ['node1', 'node2', 'node3']);

    // A pod on node3 for the drain to evict.
    // Admitted once the default service account has its token (the controller-manager makes it).
    let run = await kubectl(['run', 'on-node3', '--image=docker.io/kprov/workload:1', '--restart=Never', '--overrides={"apiVersion":"v1","spec":{"nodeName":"node3"}}']);
    for (let i = 0; i < 30 && run.code !== 0 && /service ?account|API token/i.test(run.stderr); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      run = await kubectl(['run', 'on-node3', '--image=docker.io/kprov/workload:1', '--restart=Never', '--overrides={"apiVersion":"v1","spec":{"nodeName":"node3"}}']);
    }
    assert.equal(run.code, 0, run.stderr);
    for (let i = 0; i < 60; i++) {
      if (/Running/.test((await kubectl(['get', 'pod', 'on-node3', '--no-headers'])).stdout)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }

    // 0. With node2's etcd stopped, removing node3 would leave node1 alone healthy of two: refused, nothing changed.
    await lab.exec('node2', ['systemctl', 'stop', 'etcd']);
    const refused = await kprov(['apply', 'remove-node', '-e', 'node=node3', '-e', 'drain_grace_period=2', '--yes']);
    assert.equal(refused.code, 1, refused.stdout.slice(-3000));
    const why = of(refused.events, 'task:finish').find((e) => e.status === 'failed');
    assert.match(why?.error?.message ?? '', /^not removing etcd members: removing node3 leaves 2 member\(s\), of which 1 healthy; etcd needs 2 for a quorum$/);
    assert.deepEqual(of(refused.events, 'task:finish').filter((e) => e.status === 'changed'), [], 'nothing changed');
    assert.equal((await lab.exec('node2', ['systemctl', 'start', 'etcd'])).code, 0);
    assert.deepEqual(await members(), ['node1', 'node2', 'node3']);

    // 1. node3: drain, etcd member, reset, Node, routes.
    const first = await kprov(['apply', 'remove-node', '-e', 'node=node3', '-e', 'drain_grace_period=2', '--yes']);
    assert.equal(first.code, 0, failures(first));
    console.log(`measured: remove-node of a worker and etcd member ${(first.ms / 1000).toFixed(1)} s`);
    const changed = of(first.events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host} ${e.role}: ${e.task}`);
    assert.ok(changed.includes('node1 pre-remove: node3 cordoned and drained'), changed.join('\n'));
    assert.ok(changed.some((c) => /^node1 pre-remove: etcd members of node3 removed/.test(c)), changed.join('\n'));
    assert.ok(changed.some((c) => c.startsWith('node3 reset: ')), changed.join('\n'));
    assert.ok(changed.includes('node1 post-remove: Node node3 deleted from the cluster'), changed.join('\n'));
    for (const h of ['node1', 'node2', 'node4']) assert.ok(changed.some((c) => c.startsWith(`${h} cni: `)), `${h}: routes changed\n${changed.join('\n')}`);
    assert.deepEqual(await members(), ['node1', 'node2']);
    const nodes = await kubectl(['get', 'nodes', '--no-headers']);
    assert.deepEqual(nodes.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort(), ['node1 Ready', 'node2 Ready', 'node4 Ready']);
    assert.equal((await kubectl(['get', 'pod', 'on-node3', '--ignore-not-found', '-o', 'name'])).stdout.trim(), '', 'the pod was evicted');
    const routes = await lab.exec('node1', ['ip', 'route', 'show']);
    assert.ok(!routes.stdout.includes(slices.nodes['node3']!), `no route to node3's ${slices.nodes['node3']}: ${routes.stdout}`);
    assert.ok(routes.stdout.includes(slices.nodes['node4']!), routes.stdout);
    assert.notEqual((await lab.exec('node3', ['test', '-e', '/etc/kubernetes'])).code, 0, 'node3 was reset');

    // 2. node4 dead: its container's init killed.
    const leader = (await readLabState(NAME))?.hosts.find((h) => h.name === 'node4')?.leader;
    assert.ok(leader);
    process.kill(leader.pid, 'SIGKILL');
    const second = await kprov(['apply', 'remove-node', '-e', 'node=node4', '--yes']);
    assert.equal(second.code, 0, failures(second));
    assert.ok(of(second.events, 'warning').some((w) => w.host === 'node4' && /unreachable .*skipped \(ignore_unreachable\)/.test(w.message)), JSON.stringify(of(second.events, 'warning')));
    const after = await kubectl(['get', 'nodes', '--no-headers', '-o', 'name']);
    assert.deepEqual(after.stdout.trim().split('\n').sort(), ['node/node1', 'node/node2']);

    // 4. The removed hosts leave the inventory: apply cluster keeps the two nodes and their slices.
    await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventory(['node1', 'node2'], ['node1', 'node2']));
    const again = await kprov(['apply', 'cluster']);
    assert.equal(again.code, 0, failures(again));
    assert.deepEqual((await kubectl(['get', 'nodes', '--no-headers', '-o', 'name'])).stdout.trim().split('\n').sort(), ['node/node1', 'node/node2']);
    assert.deepEqual(await members(), ['node1', 'node2']);
    const kept = JSON.parse(await readFile(path.join(lab.inventoryDir, 'state', 'pod-cidrs.json'), 'utf8')) as { nodes: Record<string, string> };
    assert.deepEqual(kept.nodes, { node1: slices.nodes['node1'], node2: slices.nodes['node2'] });
  } finally {
    await lab.stop();
  }
});
