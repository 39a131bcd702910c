/**
 * Replacing a dead control-plane + etcd host, on a 5-host lab whose inventory first lists node1–4
 * (node1–3 control plane + etcd, node4 a worker reaching the API through its node-local proxy;
 * node5 a spare host not yet in the inventory):
 *   1. a key written with the real etcdctl; node3 killed (its container's init);
 *   2. `kprov apply remove-node -e node=node3 --yes`: exit 0, saying node3 was unreachable; its
 *      etcd member removed (2 healthy members), its Node deleted, the API servers restarted one
 *      host at a time without it in --etcd-servers, node4's proxy without it upstream;
 *   3. node3 deleted from the inventory, node5 added as control plane + etcd: `kprov apply
 *      cluster` joins it: 3 healthy members (node1, node2, node5), the key still there, every node
 *      Ready and `kubectl get cs` healthy (real kubectl), node4's proxy with node5 upstream;
 *   4. a second `kprov apply cluster` changes nothing.
 * Throughout 2 and 3 the API answers through node4's proxy every second, without one failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pinVariables, startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import type { RunEvent } from '../../src/engine/events.js';
import { readLabState } from '../../src/lab/state.js';
import { labSkipReason } from '../support/lab.js';
import { eventsOf } from '../support/run-events.js';
import { ETCD_TLS, HOST_KUBECTL } from '../support/converged.js';

const NAME = 'rpl-e2e';
const of = eventsOf;

const parse = (stdout: string): RunEvent[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as RunEvent);
const failures = (r: { events: RunEvent[]; stderr: string }) =>
  of(r.events, 'host:finish')
    .filter((e) => e.error)
    .map((e) => `${e.host}: ${e.step}: ${e.error!.message}\n  ${(e.error!.output ?? []).join('\n  ')}`)
    .join('\n') + `\n${r.stderr}`;

/** When each play started and each handler and changed task finished: for a failure's message. */
const timeline = (events: RunEvent[]) =>
  events
    .filter((e) => e.type === 'play:start' || e.type === 'handler:start' || e.type === 'handler:finish' || (e.type === 'task:finish' && e.status === 'changed'))
    .map((e) => `${e.time} ${e.type} ${'host' in e ? e.host : ''} ${'play' in e && e.type === 'play:start' ? e.play : 'handler' in e ? e.handler : 'task' in e ? e.task : ''}`)
    .join('\n');

/** node4 asks the API through its proxy every second while `during` runs (bounded by it). */
async function sampled<T>(lab: ClusterLab, during: () => Promise<T>): Promise<{ result: T; ok: number; failed: string[] }> {
  const samples = { ok: 0, failed: [] as string[] };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const r = await lab.exec('node4', ['curl', '-sk', '--max-time', '2', 'https://127.0.0.1:6443/healthz'], { timeoutMs: 10_000 });
      if (r.stdout.trim() === 'ok') samples.ok++;
      else samples.failed.push(`${new Date().toISOString()} exit ${r.code}: ${r.stdout.trim().slice(0, 200)} ${r.stderr.trim().slice(0, 200)}`);
      await new Promise((res) => setTimeout(res, 1000));
    }
  })();
  try {
    return { result: await during(), ...samples };
  } finally {
    sampling = false;
    await sampler;
  }
}

test('replace a dead control-plane + etcd host: remove-node, then apply cluster joins its replacement; the API answers throughout', { skip: labSkipReason(), timeout: 900_000 }, async () => {
  const lab = await startClusterLab({ name: NAME, hosts: 5 });
  try {
    const ips = Object.fromEntries(lab.hosts.map((h) => [h.name, h.address]));
    const line = (h: string) => `${h} ansible_host=${ips[h]} ip=${ips[h]} access_ip=${ips[h]}`;
    const inventory = (controlPlane: string[]) =>
      `[all]\n${[...controlPlane, 'node4'].map(line).join('\n')}\n\n[kube_control_plane]\n${controlPlane.join('\n')}\n\n[etcd]\n${controlPlane.join('\n')}\n\n[kube_node]\nnode4\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`;
    await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventory(['node1', 'node2', 'node3']));
    // No cluster DNS: this test is about the control plane, and CoreDNS would only add time.
    await pinVariables(lab.inventoryDir, { dns_mode: 'none' });
    const kprov = async (args: string[]) => {
      const started = Date.now();
      const r = await lab.kprov([...args, '-i', lab.inventoryDir, '--json'], { timeoutMs: 600_000 });
      return { ...r, events: parse(r.stdout), ms: Date.now() - started };
    };
    const etcdctl = (args: string[], endpoints = ['node1']) =>
      lab.exec('node1', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, `--endpoints=${endpoints.map((h) => `https://${ips[h]}:2379`).join(',')}`, ...args], { timeoutMs: 30_000 });
    const members = async () => {
      const r = await etcdctl(['member', 'list', '-w', 'simple']);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim().split('\n').map((l) => `${l.split(', ')[2]} ${l.split(', ')[1]}`).sort();
    };
    const healthy = async (hosts: string[]) => {
      const r = await etcdctl(['endpoint', 'health'], hosts);
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      return `${r.stdout}${r.stderr}`.match(/is healthy/g)?.length ?? 0;
    };
    const kubectl = (args: string[]) => lab.exec('node1', [...HOST_KUBECTL, ...args], { timeoutMs: 60_000 });
    const proxyUpstreams = async () => {
      const r = await lab.exec('node4', ['cat', '/etc/nginx/nginx.conf']);
      return [...r.stdout.matchAll(/^\s*server (\S+):6443 /gm)].map((m) => m[1]).sort();
    };

    const fresh = await kprov(['apply', 'cluster']);
    assert.equal(fresh.code, 0, failures(fresh));
    console.log(`measured: fresh apply, 3 control-plane hosts and a worker ${(fresh.ms / 1000).toFixed(1)} s`);
    assert.deepEqual(await proxyUpstreams(), [ips['node1'], ips['node2'], ips['node3']].sort());
    const put = await etcdctl(['put', '/kprov-e2e/replace', 'kept']);
    assert.equal(put.code, 0, put.stderr);

    // 1. node3 dies: its container's init killed.
    const leader = (await readLabState(NAME))?.hosts.find((h) => h.name === 'node3')?.leader;
    assert.ok(leader);
    process.kill(leader.pid, 'SIGKILL');

    // 2. remove-node takes it out; the staying control plane and node4's proxy learn it.
    const removed = await sampled(lab, () => kprov(['apply', 'remove-node', '-e', 'node=node3', '-e', 'drain_grace_period=2', '--yes']));
    const rm = removed.result;
    assert.equal(rm.code, 0, failures(rm));
    console.log(`measured: remove-node of a dead control-plane + etcd host ${(rm.ms / 1000).toFixed(1)} s; API through node4's proxy: ${removed.ok} ok, ${removed.failed.length} failed`);
    assert.ok(of(rm.events, 'warning').some((w) => w.host === 'node3' && /unreachable .*skipped \(ignore_unreachable\)/.test(w.message)), JSON.stringify(of(rm.events, 'warning')));
    const changed = of(rm.events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host} ${e.role}: ${e.task}`);
    assert.ok(changed.some((c) => /^node1 pre-remove: etcd members of node3 removed/.test(c)), changed.join('\n'));
    assert.ok(changed.includes('node1 post-remove: Node node3 deleted from the cluster'), changed.join('\n'));
    const handlers = of(rm.events, 'handler:finish').map((e) => `${e.host} ${e.handler} ${e.status}`);
    assert.deepEqual(handlers.filter((h) => h.includes('kube-apiserver')), ['node1 restart kube-apiserver changed', 'node2 restart kube-apiserver changed'], 'rolling, one host at a time');
    const proxyLogs = async () => (await lab.exec('node4', ['sh', '-c', 'tail -n 40 /var/log/pods/*/*/*.log 2>&1 | grep -v " 200 " | tail -n 60'])).stdout;
    if (removed.failed.length > 0) console.log(`node4's pod logs:\n${await proxyLogs()}`);
    assert.equal(removed.failed.length, 0, `the API answered throughout (${removed.ok} ok):\n${removed.failed.join('\n')}\n${timeline(rm.events)}`);
    assert.deepEqual(await members(), ['node1 started', 'node2 started']);
    assert.equal(await healthy(['node1', 'node2']), 2);
    assert.deepEqual(await proxyUpstreams(), [ips['node1'], ips['node2']].sort(), "node4's proxy without node3");
    for (const h of ['node1', 'node2']) {
      const flags = await lab.exec(h, ['cat', '/etc/systemd/system/kube-apiserver.service']);
      assert.doesNotMatch(flags.stdout, new RegExp(`${ips['node3']!.replace(/\./g, '\\.')}:2379`), `${h}: --etcd-servers without node3`);
      assert.match(flags.stdout, /--apiserver-count=2/, `${h}: --apiserver-count`);
    }
    assert.deepEqual((await kubectl(['get', 'nodes', '--no-headers', '-o', 'name'])).stdout.trim().split('\n').sort(), ['node/node1', 'node/node2', 'node/node4']);

    // 3. node5 replaces node3 in the inventory; apply cluster joins it.
    await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventory(['node1', 'node2', 'node5']));
    const joined = await sampled(lab, () => kprov(['apply', 'cluster']));
    const join = joined.result;
    assert.equal(join.code, 0, failures(join));
    console.log(`measured: apply cluster joining node5 (control plane + etcd) ${(join.ms / 1000).toFixed(1)} s; API through node4's proxy: ${joined.ok} ok, ${joined.failed.length} failed`);
    if (joined.failed.length > 0) console.log(`node4's pod logs:\n${await proxyLogs()}`);
    assert.equal(joined.failed.length, 0, `the API answered throughout (${joined.ok} ok):\n${joined.failed.join('\n')}\n${timeline(join.events)}`);
    const restarts = of(join.events, 'handler:finish').map((e) => `${e.host} ${e.handler}`).filter((h) => h.includes('kube-apiserver'));
    assert.ok(restarts.every((h, i) => restarts.indexOf(h) === i), `each API server restarted at most once: ${restarts.join(', ')}`);
    assert.deepEqual(await members(), ['node1 started', 'node2 started', 'node5 started']);
    assert.equal(await healthy(['node1', 'node2', 'node5']), 3);
    const get = await etcdctl(['get', '--print-value-only', '/kprov-e2e/replace'], ['node5']);
    assert.equal(get.stdout.trim(), 'kept', 'the key, read from node5');
    const nodes = await kubectl(['get', 'nodes', '--no-headers']);
    assert.deepEqual(nodes.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort(), ['node1 Ready', 'node2 Ready', 'node4 Ready', 'node5 Ready']);
    const cs = await kubectl(['get', 'cs', '--no-headers']);
    assert.equal(cs.code, 0, cs.stderr);
    const statuses = cs.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort();
    assert.deepEqual(statuses, ['controller-manager Healthy', 'etcd-0 Healthy', 'etcd-1 Healthy', 'etcd-2 Healthy', 'scheduler Healthy']);
    assert.deepEqual(await proxyUpstreams(), [ips['node1'], ips['node2'], ips['node5']].sort(), "node4's proxy with node5");

    // 4. Nothing left to do.
    const again = await kprov(['apply', 'cluster']);
    assert.equal(again.code, 0, failures(again));
    assert.deepEqual(of(again.events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host} ${e.task}`), []);
    assert.deepEqual(of(again.events, 'handler:start').map((e) => `${e.host} ${e.handler}`), []);
  } finally {
    await lab.stop();
  }
});
