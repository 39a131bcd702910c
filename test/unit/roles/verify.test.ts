/**
 * The verify role on fake hosts: which checks run where, that a healthy cluster reports nothing
 * changed, and that each failure names the host and carries the explaining unit's status and
 * journal. The fake hosts answer etcdctl and kubectl the way the real ones print.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initInventory } from '../../../src/inventory/scaffold.js';
import { loadInventory, type Inventory } from '../../../src/inventory/load.js';
import { VERIFY_TIMEOUTS } from '../../../src/roles/verify/checks.js';
import { verifyRole } from '../../../src/roles/verify/index.js';
import type { ExecResult } from '../../../src/ssh/types.js';
import { pendingRecordPath } from '../../../src/engine/pending.js';
import { FakeFleet, type FakeMachine } from '../../../dev/fake-fleet.js';
import { createClusterRun } from '../../../src/cluster/run.js';
import { runYaml } from '../engine/playbook-harness.js';

const PLAYBOOK = '- name: Verify the cluster\n  hosts: k8s_cluster:etcd\n  roles: [verify]\n';
const CURRENT_FILES = 'every service runs with its current files';
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
const fail = (code: number, stderr: string): ExecResult => ({ code, stdout: '', stderr });

interface ClusterState {
  /** Node name → Ready status ('True', 'False', or absent: not registered). */
  nodes: Map<string, string>;
  unhealthyEtcd: Set<string>;
  components: Map<string, boolean>;
  kubectlCalls: string[];
  argvs: string[][];
  /** `host unit` pairs whose unit has failed. */
  stoppedUnits: Set<string>;
  /** host → handler → record text an interrupted run left there. */
  pending: Map<string, Map<string, string>>;
}

function healthyState(names: string[]): ClusterState {
  return {
    nodes: new Map(names.map((n) => [n, 'True'])),
    unhealthyEtcd: new Set(),
    components: new Map([['scheduler', true], ['controller-manager', true], ['etcd-0', true], ['etcd-1', true], ['etcd-2', true]]),
    kubectlCalls: [],
    argvs: [],
    stoppedUnits: new Set(),
    pending: new Map(),
  };
}

/** etcdctl and kubectl as a 3-member, 5-node cluster answers them. */
function script(state: ClusterState) {
  return (argv: readonly string[], machine: FakeMachine): ExecResult | undefined => {
    const tool = path.posix.basename(argv[0] ?? '');
    if (tool === 'etcdctl' || tool === 'kubectl') state.argvs.push([machine.name, ...argv]);
    if (tool === 'etcdctl') {
      const endpoint = argv.find((a) => a.startsWith('--endpoints='))!.slice('--endpoints='.length);
      if (state.unhealthyEtcd.has(machine.name)) return fail(1, `{"level":"warn","msg":"health check failed"}\n${endpoint} is unhealthy: failed to commit proposal: context deadline exceeded\nError: unhealthy cluster`);
      return ok(`${endpoint} is healthy: successfully committed proposal: took = 2.1ms\n`);
    }
    if (tool !== 'kubectl') return undefined;
    const args = argv.filter((a) => !a.startsWith('--'));
    state.kubectlCalls.push(`${machine.name}: ${args.slice(1).join(' ')}`);
    if (args[1] === 'get' && args[2] === 'nodes') {
      const items = [...state.nodes].map(([name, ready]) => ({
        metadata: { name },
        status: { conditions: [{ type: 'Ready', status: ready, reason: ready === 'True' ? 'KubeletReady' : 'KubeletNotReady', message: ready === 'True' ? 'kubelet is posting ready status' : 'runtime network not ready: cni config uninitialized' }] },
      }));
      return ok(JSON.stringify({ kind: 'NodeList', items }));
    }
    if (args[1] === 'get' && args[2] === 'componentstatuses') {
      const items = [...state.components].map(([name, healthy]) => ({
        metadata: { name },
        conditions: [{ type: 'Healthy', status: healthy ? 'True' : 'False', ...(healthy ? { message: 'ok' } : { error: 'Get http://127.0.0.1:10251/healthz: dial tcp 127.0.0.1:10251: connect: connection refused' }) }],
      }));
      return ok(JSON.stringify({ kind: 'ComponentStatusList', items }));
    }
    if (args.includes('/healthz')) return ok('ok');
    return fail(1, `unexpected kubectl ${args.join(' ')}`);
  };
}

describe('verify role', () => {
  let dir: string;
  let inventory: Inventory;
  const saved = { ...VERIFY_TIMEOUTS };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kprov-verify-'));
    await initInventory(path.join(dir, 'inv'), { hosts: '10.99.0.1,10.99.0.2,10.99.0.3,10.99.0.4,10.99.0.5' });
    inventory = await loadInventory(path.join(dir, 'inv'));
    // Short bounds so failing waits end quickly.
    Object.assign(VERIFY_TIMEOUTS, { etcdMs: 300, apiserverMs: 300, componentsMs: 300, nodeReadyMs: 300, intervalMs: 20 });
  });
  after(async () => {
    Object.assign(VERIFY_TIMEOUTS, saved);
    await rm(dir, { recursive: true, force: true });
  });

  function fleetFor(state: ClusterState): FakeFleet {
    const fleet = new FakeFleet(inventory.hosts.map((h) => h.name));
    for (const m of fleet.machines.values()) {
      m.script = script(state);
      for (const unit of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet']) {
        m.units.set(unit, { enabled: true, active: !state.stoppedUnits.has(`${m.name} ${unit}`), failed: state.stoppedUnits.has(`${m.name} ${unit}`) });
      }
      for (const [handler, text] of state.pending.get(m.name) ?? []) m.putFile(pendingRecordPath(handler), text, { mode: 0o600 });
    }
    return fleet;
  }

  const run = (state: ClusterState, extra: { dryRun?: boolean; limit?: string } = {}) =>
    runYaml(PLAYBOOK, { inventory, roles: [verifyRole], fleet: fleetFor(state), run: createClusterRun(inventory, { dryRun: extra.dryRun ?? false }), ...extra });

  test('the lab layout: 3 control-plane + etcd hosts, 2 workers', () => {
    assert.deepEqual(inventory.groups['kube_control_plane'], ['node1', 'node2', 'node3']);
    assert.deepEqual(inventory.groups['etcd'], ['node1', 'node2', 'node3']);
    assert.deepEqual(inventory.groups['k8s_cluster'], ['node1', 'node2', 'node3', 'node4', 'node5']);
  });

  test('a healthy cluster: every check where it belongs, nothing changed, node list read once per poll', async () => {
    const state = healthyState(inventory.hosts.map((h) => h.name));
    const r = await run(state);
    assert.equal(r.result.status, 'ok');
    assert.ok(r.result.recap.every((h) => h.changed === 0 && h.failed === 0), JSON.stringify(r.result.recap));
    const tasks = Object.fromEntries(r.of('host:tasks').map((e) => [e.host, e.tasks.map((t) => t.name)]));
    assert.deepEqual(tasks['node1'], [
      'read the API through this host for every node\'s check',
      'etcd member node1 healthy',
      'kube-apiserver https://10.99.0.1:6443/healthz ok',
      'component statuses healthy (scheduler, controller-manager, etcd-0, etcd-1, etcd-2)',
      'node node1 Ready',
      'registered nodes are the inventory\'s',
      CURRENT_FILES,
    ]);
    assert.deepEqual(tasks['node2'], ['etcd member node2 healthy', 'kube-apiserver https://10.99.0.2:6443/healthz ok', 'node node2 Ready', CURRENT_FILES]);
    assert.deepEqual(tasks['node5'], ['node node5 Ready', CURRENT_FILES]);
    // Every check of a healthy host is answered by its one read-ahead (the pending records' listing included).
    assert.ok(r.of('host:read').every((e) => e.exitCode === 0 && e.commands >= 1));
    // Every kubectl runs on the observer, never on a worker (workers have no kubectl).
    assert.ok(state.kubectlCalls.every((c) => c.startsWith('node1: ') || /^node[23]: get \/healthz/.test(c)), state.kubectlCalls.join('\n'));
    // The tools and files the etcd and control-plane roles installed, at the inventory's paths.
    assert.deepEqual(state.argvs.find((a) => a[0] === 'node2' && a[1]!.endsWith('etcdctl')), [
      'node2',
      '/usr/local/bin/etcdctl',
      '--endpoints=https://10.99.0.2:2379',
      '--cacert=/etc/ssl/etcd/ssl/ca.crt',
      '--cert=/etc/ssl/etcd/ssl/healthcheck-client.crt',
      '--key=/etc/ssl/etcd/ssl/healthcheck-client.key',
      '--dial-timeout=3s',
      '--command-timeout=5s',
      'endpoint',
      'health',
    ]);
    assert.deepEqual(state.argvs.find((a) => a[0] === 'node3' && a.includes('/healthz')), [
      'node3',
      '/usr/local/bin/kubectl',
      '--kubeconfig=/etc/kubernetes/admin.conf',
      '--request-timeout=5s',
      '--server=https://10.99.0.3:6443',
      'get',
      '--raw',
      '/healthz',
    ]);
    const nodeLists = state.kubectlCalls.filter((c) => c.includes('get nodes')).length;
    assert.ok(nodeLists <= 3, `node list read ${nodeLists} times for 5 nodes (coalesced)`);
  });

  test('an API server that lists fewer etcd members than the inventory (scale added one): a warning naming apply cluster; a listed unhealthy one fails', async () => {
    const state = healthyState(inventory.hosts.map((h) => h.name));
    state.components.delete('etcd-1');
    state.components.delete('etcd-2');
    const r = await run(state);
    assert.equal(r.result.status, 'ok', JSON.stringify(r.of('host:finish')));
    const warnings = r.of('warning').map((w) => `${w.host}: ${w.message}`);
    assert.ok(warnings.includes('node1: kube-apiserver on node1 knows 1 of the 3 etcd members (its --etcd-servers): `kprov apply cluster` gives it every member, with a rolling restart of kube-apiserver'), warnings.join('\n'));
    state.components.set('etcd-1', false);
    const bad = await run(state);
    assert.deepEqual(bad.of('host:finish').filter((e) => e.status === 'failed').map((e) => e.host), ['node1']);
  });

  test('a NotReady node fails on that node with its kubelet status and journal', async () => {
    const state = healthyState(inventory.hosts.map((h) => h.name));
    state.nodes.set('node5', 'False');
    const r = await run(state);
    assert.equal(r.result.status, 'failed');
    const failed = r.of('host:finish').filter((e) => e.status === 'failed');
    assert.deepEqual(failed.map((e) => e.host), ['node5']);
    const err = failed[0]!.error!;
    assert.match(failed[0]!.step!, /verify: node node5 Ready/);
    assert.match(err.message, /node node5 is not Ready \(Ready=False, KubeletNotReady: runtime network not ready: cni config uninitialized\) \(still after 0 s\)/);
    assert.ok(err.output?.some((l) => l.includes('journal of kubelet --')), `kubelet journal in ${JSON.stringify(err.output)}`);
    assert.match(err.hint ?? '', /journalctl -u kubelet/);
  });

  test('a failed kubelet is reported at once, without waiting out the bound', async () => {
    Object.assign(VERIFY_TIMEOUTS, { nodeReadyMs: 60_000 });
    try {
      const state = healthyState(inventory.hosts.map((h) => h.name));
      state.nodes.set('node4', 'Unknown');
      state.stoppedUnits.add('node4 kubelet');
      const started = Date.now();
      const r = await run(state);
      assert.ok(Date.now() - started < 5_000, 'no waiting for a unit that has failed');
      const failed = r.of('host:finish').filter((e) => e.status === 'failed');
      assert.deepEqual(failed.map((e) => e.host), ['node4']);
      assert.match(failed[0]!.error!.message, /^node node4 is not Ready \(Ready=Unknown.*\) \(kubelet is failed\)$/);
      assert.ok(failed[0]!.error!.output?.some((l) => l.includes('Active: failed')), JSON.stringify(failed[0]!.error!.output));
    } finally {
      Object.assign(VERIFY_TIMEOUTS, { nodeReadyMs: 300 });
    }
  });

  test('a node that never registered says so', async () => {
    const state = healthyState(inventory.hosts.map((h) => h.name));
    state.nodes.delete('node4');
    const r = await run(state);
    const failed = r.of('host:finish').filter((e) => e.status === 'failed');
    assert.deepEqual(failed.map((e) => e.host), ['node4']);
    assert.match(failed[0]!.error!.message, /node node4 has not registered with the API server/);
  });

  test('an unhealthy etcd member fails on its host with etcdctl output and etcd journal', async () => {
    const state = healthyState(inventory.hosts.map((h) => h.name));
    state.unhealthyEtcd.add('node2');
    const r = await run(state);
    const failed = r.of('host:finish').filter((e) => e.status === 'failed');
    assert.deepEqual(failed.map((e) => e.host), ['node2']);
    const err = failed[0]!.error!;
    assert.match(err.message, /etcdctl endpoint health https:\/\/10\.99\.0\.2:2379 exited with 1: Error: unhealthy cluster/);
    assert.ok(err.output?.some((l) => l.includes('is unhealthy')), 'etcdctl output');
    assert.ok(err.output?.some((l) => l.includes('journal of etcd --')), 'etcd journal');
  });

  test('an unhealthy scheduler fails on the observer with kube-scheduler diagnostics', async () => {
    const state = healthyState(inventory.hosts.map((h) => h.name));
    state.components.set('scheduler', false);
    state.components.delete('etcd-2');
    const r = await run(state);
    const failed = r.of('host:finish').filter((e) => e.status === 'failed');
    assert.deepEqual(failed.map((e) => e.host), ['node1']);
    assert.match(failed[0]!.error!.message, /scheduler unhealthy: Get http:\/\/127\.0\.0\.1:10251\/healthz: .*connection refused; etcd-2 missing/);
    assert.ok(failed[0]!.error!.output?.some((l) => l.includes('journal of kube-scheduler --')));
  });

  test('a registered node the inventory does not name fails at once', async () => {
    const state = healthyState(inventory.hosts.map((h) => h.name));
    state.nodes.set('old-node9', 'True');
    const r = await run(state);
    const failed = r.of('host:finish').filter((e) => e.status === 'failed');
    assert.deepEqual(failed.map((e) => e.host), ['node1']);
    assert.equal(failed[0]!.error!.message, 'nodes registered that the inventory does not name: old-node9');
    assert.match(failed[0]!.error!.hint ?? '', /kubectl delete node/);
  });

  test('a restart left pending by an interrupted run fails its host, naming unit, files and handler; a plan warns', async () => {
    const state = healthyState(inventory.hosts.map((h) => h.name));
    state.pending.set(
      'node2',
      new Map([
        ['restart kube-apiserver', 'handler restart kube-apiserver\nunit kube-apiserver.service\nchanged /etc/systemd/system/kube-apiserver.service\n'],
        ['restart kube-scheduler', 'handler restart kube-scheduler\nunit kube-scheduler.service\nchanged /etc/systemd/system/kube-scheduler.service\nchanged /etc/kubernetes/scheduler.conf\n'],
      ]),
    );
    const r = await run(state);
    assert.equal(r.result.status, 'failed');
    const failed = r.of('host:finish').filter((e) => e.status === 'failed');
    assert.deepEqual(failed.map((e) => e.host), ['node2'], 'the health checks pass: the old processes still answer');
    const err = failed[0]!.error!;
    assert.match(failed[0]!.step!, new RegExp(`verify: ${CURRENT_FILES}`));
    assert.match(
      err.message,
      /^kube-apiserver\.service runs with configuration older than its files: \/etc\/systemd\/system\/kube-apiserver\.service changed at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ and "restart kube-apiserver" has not run since \(left pending by an interrupted run\); kube-scheduler\.service runs with configuration older than its files: \/etc\/systemd\/system\/kube-scheduler\.service, \/etc\/kubernetes\/scheduler\.conf changed at .* and "restart kube-scheduler" has not run since/,
    );
    assert.ok(err.output?.some((l) => l.includes('journal of kube-apiserver.service --')), 'the unit\'s status and journal: since when it runs');
    assert.match(err.hint ?? '', /kprov apply cluster runs the pending handlers/);

    const plan = await run(state, { dryRun: true });
    assert.equal(plan.result.status, 'ok');
    assert.ok(plan.of('warning').some((w) => w.host === 'node2' && w.message.startsWith(`${CURRENT_FILES}: not healthy now (kube-apiserver.service runs with configuration older`)));
  });

  test('a plan looks once and warns instead of failing', async () => {
    const state = healthyState(inventory.hosts.map((h) => h.name));
    state.nodes.set('node5', 'False');
    const r = await run(state, { dryRun: true });
    assert.equal(r.result.status, 'ok');
    const warnings = r.of('warning').map((w) => `${w.host}: ${w.message}`);
    assert.ok(warnings.some((w) => /^node5: node node5 Ready: not healthy now \(node node5 is not Ready/.test(w)), warnings.join('\n'));
    assert.ok(r.result.recap.every((h) => h.changed === 0));
  });

  test('with no control-plane host in the run, node readiness is reported as not verified', async () => {
    const state = healthyState(inventory.hosts.map((h) => h.name));
    const r = await run(state, { limit: 'node4' });
    assert.equal(r.result.status, 'ok');
    assert.ok(r.of('warning').some((w) => w.host === 'node4' && /node readiness not verified/.test(w.message)));
    assert.deepEqual(state.kubectlCalls, []);
  });
});
