/**
 * Fault: a worker host dies in the middle of `kprov apply cluster` (its systemd is killed, so the
 * whole container goes: killing nspawn alone would leave it running). On a 3-host lab (node1
 * control plane + etcd, node2 and node3 workers): node3 dies during the pod-network play; etcd,
 * the control plane and node2 still converge (real etcdctl, real kubectl), and the run exits 1
 * naming node3 and what the next run will do there. Locks on the hosts that are left are released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startClusterLab } from '../../dev/cluster-lab.js';
import type { RunEvent } from '../../src/engine/events.js';
import { readLabState } from '../../src/lab/state.js';
import { labSkipReason } from '../support/lab.js';
import { runLog, startKprov, waitFor, type KprovProcess } from '../support/kprov-process.js';
import { eventsOf } from '../support/run-events.js';
import { ETCD_TLS } from '../support/converged.js';

const NAME = 'e2e-fwork';
const HOSTS = ['node1', 'node2', 'node3'];

const of = eventsOf;

test('a worker lost mid-run: etcd, the control plane and the other worker converge; exit 1 names it', { skip: labSkipReason(), timeout: 900_000 }, async () => {
  const lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
  let run: KprovProcess | undefined;
  try {
    const ips = Object.fromEntries(lab.hosts.map((h) => [h.name, h.address]));
    const line = (h: string) => `${h} ansible_host=${ips[h]} ip=${ips[h]} access_ip=${ips[h]}`;
    await writeFile(
      path.join(lab.inventoryDir, 'inventory.ini'),
      `[all]\n${HOSTS.map(line).join('\n')}\n\n[kube_control_plane]\nnode1\n\n[etcd]\nnode1\n\n[kube_node]\nnode2\nnode3\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`,
    );
    run = startKprov(['apply', 'cluster', '-i', lab.inventoryDir]);
    const current = run;
    await waitFor('node3 in the pod network play', 300_000, async () => {
      const events = await runLog(lab.inventoryDir);
      return events.some((e) => e.type === 'task:start' && e.host === 'node3' && e.play === 'Pod network (CNI)');
    });
    // The host's init: with it the whole container goes (nspawn then exits by itself).
    const leader = (await readLabState(NAME))?.hosts.find((h) => h.name === 'node3')?.leader;
    assert.ok(leader, 'the lab state records node3\'s init');
    process.kill(leader.pid, 'SIGKILL');
    const killedAt = Date.now();
    const exit = await current.exit(600_000);
    console.log(`node3 killed; the run ended ${((Date.now() - killedAt) / 1000).toFixed(1)} s later (whole run ${(exit.ms / 1000).toFixed(1)} s)`);
    assert.equal(exit.code, 1, `${current.stdout.slice(-4000)}\n${current.stderr}`);
    console.log(current.stdout.split('\n').filter((l) => /^( {2}(FAILED|UNREACHABLE)|LEFT|node3|  +(done|not done)|FAILED)/.test(l)).join('\n'));

    const events = await runLog(lab.inventoryDir);
    const finish = of(events, 'run:finish')[0]!;
    assert.equal(finish.status, 'failed');
    assert.deepEqual(finish.leftBehind.map((h) => h.host), ['node3'], JSON.stringify(finish.leftBehind));
    const node3 = finish.leftBehind[0]!;
    assert.ok(node3.why === 'failed' || node3.why === 'unreachable', node3.why);
    assert.match(node3.at ?? '', /^Pod network \(CNI\): /);
    assert.deepEqual(node3.pending, ['Pod network (CNI)', 'Nodes', 'Verify the cluster']);
    for (const r of finish.recap.filter((x) => x.host !== 'node3')) assert.deepEqual([r.failed, r.unreachable], [0, 0], r.host);
    for (const play of ['etcd', 'Control plane', 'Nodes', 'Verify the cluster']) {
      assert.ok(['ok', 'changed'].includes(of(events, 'play:finish').find((e) => e.play === play)?.status ?? 'missing'), `${play} finished`);
    }
    assert.deepEqual(of(events, 'play:start').find((e) => e.play === 'Nodes')!.hosts, ['node1', 'node2']);
    assert.deepEqual(of(events, 'play:skip'), []);
    assert.match(current.stdout, /^LEFT FOR THE NEXT RUN \(1 host\)\nnode3 +(failed|unreachable) at Pod network \(CNI\): .*\n +done: Distribute the cluster SSH key, Facts and preflight checks, Container runtime\n +not done: Pod network \(CNI\), Nodes, Verify the cluster$/m);
    assert.match(current.stdout, /^FAILED on node3 \(/m);

    // The real etcdctl and kubectl: etcd healthy, node1 and node2 Ready.
    const health = await lab.exec('node1', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, `--endpoints=https://${ips['node1']}:2379`, 'endpoint', 'health'], { timeoutMs: 60_000 });
    assert.match(`${health.stdout}${health.stderr}`, /is healthy/);
    const nodes = await lab.exec('node1', ['/usr/local/bin/kubectl', '--kubeconfig=/etc/kubernetes/admin.conf', 'get', 'nodes', '--no-headers'], { timeoutMs: 60_000 });
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.deepEqual(nodes.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort(), ['node1 Ready', 'node2 Ready']);

    assert.equal(existsSync(path.join(lab.inventoryDir, '.kprov.lock')), false);
    for (const h of ['node1', 'node2']) assert.notEqual((await lab.exec(h, ['test', '-e', '/run/kprov.lock'])).code, 0, `${h}: host lock released`);
  } finally {
    await run?.cleanup();
    await lab.stop();
  }
});
