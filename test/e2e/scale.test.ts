/**
 * `kprov apply scale --limit node4` on a 4-host lab: a cluster of three (node1 control plane +
 * etcd + node, node2 and node3 nodes) is built, then node4 joins the inventory as a worker and an
 * etcd member:
 *   - node4 gets everything: Ready through the real kubectl, an etcd member that joined the
 *     running cluster with initial-cluster-state `existing`;
 *   - node1..node3 change only their routes (the live routes to node4's pod CIDR and the unit
 *     that restores them at boot), and no service of theirs restarts (systemd's InvocationID,
 *     MainPID and NRestarts of every unit are the same before and after);
 *   - a pod on node4 reaches a pod on node1 (`kprov apply check`);
 *   - a second `kprov apply scale`, without --limit, changes nothing on any host;
 *   - before that, node4 as a new control-plane host is refused at preflight (apply cluster's job).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pinVariables, startClusterLab } from '../../dev/cluster-lab.js';
import type { RunEvent } from '../../src/engine/events.js';
import { labSkipReason } from '../support/lab.js';
import { eventsOf, hostFailures, parseRunEvents } from '../support/run-events.js';
import { ETCD_TLS, HOST_KUBECTL } from '../support/converged.js';

const NAME = 'scl-e2e';
const EXISTING = ['node1', 'node2', 'node3'];
const UNITS = ['containerd', 'kubelet', 'kube-proxy', 'kprov-pod-routes', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const of = eventsOf;

const parse = parseRunEvents;

const failures = hostFailures;

const changedTasks = (events: RunEvent[]) => of(events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host} ${e.role}: ${e.task}`);

test('scale --limit node4: node4 joins as worker and etcd member; the others get only their routes and restart nothing', { skip: labSkipReason(), timeout: 900_000 }, async () => {
  const lab = await startClusterLab({ name: NAME, hosts: 4 });
  try {
    const ips = Object.fromEntries(lab.hosts.map((h) => [h.name, h.address]));
    const line = (h: string) => `${h} ansible_host=${ips[h]} ip=${ips[h]} access_ip=${ips[h]}`;
    const inventory = (hosts: string[], etcd: string[]) =>
      `[all]\n${hosts.map(line).join('\n')}\n\n[kube_control_plane]\nnode1\n\n[etcd]\n${etcd.join('\n')}\n\n[kube_node]\n${hosts.join('\n')}\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`;
    await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventory(EXISTING, ['node1']));
    // No cluster DNS: scale does not touch add-ons, and CoreDNS would only add time.
    await pinVariables(lab.inventoryDir, { dns_mode: 'none' });
    const kprov = async (args: string[]) => {
      const started = Date.now();
      const r = await lab.kprov([...args, '-i', lab.inventoryDir, '--json'], { timeoutMs: 600_000 });
      return { ...r, events: parse(r.stdout), ms: Date.now() - started };
    };
    const built = await kprov(['apply', 'cluster']);
    assert.equal(built.code, 0, failures(built));

    /** Every unit's invocation, main PID and restart count on the hosts already there. */
    const unitStates = async () => {
      const out: Record<string, string> = {};
      for (const host of EXISTING) {
        const r = await lab.exec(host, ['systemctl', 'show', '--property=Id,InvocationID,MainPID,NRestarts,ActiveEnterTimestampMonotonic', '--', ...UNITS.map((u) => `${u}.service`)]);
        assert.equal(r.code, 0, r.stderr);
        for (const block of r.stdout.trim().split(/\n\s*\n/)) out[`${host} ${/^Id=(.+)$/m.exec(block)?.[1]}`] = block.split('\n').sort().join(' ');
      }
      return out;
    };
    const before = await unitStates();
    assert.match(before['node2 kubelet.service'] ?? '', /MainPID=[1-9]/, 'the units are running');

    // node4 as a new control-plane host: refused at preflight (that is apply cluster's job).
    await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventory([...EXISTING, 'node4'], ['node1']).replace('[kube_control_plane]\nnode1\n', '[kube_control_plane]\nnode1\nnode4\n'));
    const refused = await kprov(['apply', 'scale', '--limit', 'node4']);
    assert.equal(refused.code, 1, refused.stdout.slice(-3000));
    const why = of(refused.events, 'task:finish').filter((e) => e.status === 'failed').map((e) => `${e.host}: ${e.error?.message ?? ''}`);
    assert.equal(why.length, 1, `${why.join('\n')}\n${failures(refused)}`);
    assert.match(why[0]!, /^node4: node4 is a control-plane host without kube-apiserver\.service: scale adds workers and etcd members/);
    assert.deepEqual(changedTasks(refused.events).filter((c) => !c.includes(' ssh-keys: ')), [], 'nothing but the SSH key changed');

    // node4 joins the inventory, as a node and as an etcd member.
    await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventory([...EXISTING, 'node4'], ['node1', 'node4']));
    const scale = await kprov(['apply', 'scale', '--limit', 'node4']);
    assert.equal(scale.code, 0, failures(scale));
    console.log(`measured: apply scale --limit node4 (worker + etcd member) on a 3-host cluster ${(scale.ms / 1000).toFixed(1)} s`);

    // The hosts already there: their routes and nothing else; no handler anywhere.
    const changed = changedTasks(scale.events);
    for (const h of EXISTING) {
      assert.deepEqual(
        changed.filter((c) => c.startsWith(`${h} `)),
        [`${h} pod-routes: routes to the other nodes' pod networks (3)`, `${h} pod-routes: file /etc/systemd/system/kprov-pod-routes.service`, `${h} pod-routes: service kprov-pod-routes.service`],
        changed.join('\n'),
      );
    }
    assert.ok(changed.some((c) => c.startsWith('node4 node: ')) && changed.some((c) => c.startsWith('node4 etcd: ')), changed.join('\n'));
    assert.deepEqual(of(scale.events, 'handler:start').filter((e) => e.host !== 'node4'), [], 'no handler ran on the hosts already there');
    assert.deepEqual(await unitStates(), before, 'no unit restarted on the hosts already there');
    const warned = of(scale.events, 'warning').map((w) => w.message);
    assert.ok(warned.some((w) => /knows 1 of the 2 etcd members/.test(w)), warned.join('\n'));

    // Routes to node4's pods on every other node, live and in the boot-time unit.
    const slices = JSON.parse(await readFile(path.join(lab.inventoryDir, 'state', 'pod-cidrs.json'), 'utf8')) as { nodes: Record<string, string> };
    const node4Cidr = slices.nodes['node4']!;
    for (const h of EXISTING) {
      const routes = await lab.exec(h, ['ip', 'route', 'show', node4Cidr]);
      assert.match(routes.stdout, new RegExp(`via ${ips['node4']!.replace(/\./g, '\\.')} .*proto 147`), `${h}: ${routes.stdout}`);
      assert.match((await lab.exec(h, ['cat', '/etc/systemd/system/kprov-pod-routes.service'])).stdout, new RegExp(node4Cidr.replace(/[./]/g, '\\$&')));
    }

    // node4 Ready, seen with the real kubectl; its etcd member joined the running cluster.
    const nodes = await lab.exec('node1', [...HOST_KUBECTL, 'get', 'nodes', '--no-headers'], { timeoutMs: 60_000 });
    assert.deepEqual(nodes.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort(), ['node1 Ready', 'node2 Ready', 'node3 Ready', 'node4 Ready']);
    const env = (await lab.exec('node4', ['cat', '/etc/etcd.env'])).stdout;
    assert.match(env, /^ETCD_INITIAL_CLUSTER_STATE=existing$/m);
    const members = await lab.exec('node1', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, `--endpoints=https://${ips['node1']}:2379,https://${ips['node4']}:2379`, 'endpoint', 'health'], { timeoutMs: 30_000 });
    assert.equal(`${members.stdout}${members.stderr}`.match(/is healthy/g)?.length, 2, `${members.stdout}${members.stderr}`);
    const list = await lab.exec('node4', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, `--endpoints=https://${ips['node4']}:2379`, 'member', 'list', '-w', 'simple'], { timeoutMs: 30_000 });
    assert.deepEqual(list.stdout.trim().split('\n').map((l) => `${l.split(', ')[1]} ${l.split(', ')[2]}`).sort(), ['started node1', 'started node4']);

    // A pod on node4 reaches a pod on node1 (and back).
    const check = await kprov(['apply', 'check', '--limit', 'node1,node4']);
    assert.equal(check.code, 0, failures(check));
    console.log(`measured: apply check on node1 and node4 ${(check.ms / 1000).toFixed(1)} s`);

    // Again, without --limit: nothing to do anywhere.
    const again = await kprov(['apply', 'scale']);
    assert.equal(again.code, 0, failures(again));
    assert.deepEqual(changedTasks(again.events), []);
    assert.deepEqual(of(again.events, 'handler:start'), []);
    console.log(`measured: apply scale without changes on 4 hosts ${(again.ms / 1000).toFixed(1)} s`);
  } finally {
    await lab.stop();
  }
});
