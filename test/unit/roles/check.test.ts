/**
 * The check role on fake hosts whose kubectl answers like a cluster that runs the pods it is
 * given: which host drives the check, that a healthy cluster passes and leaves no pod behind, and
 * that a pair of nodes whose pods cannot talk fails on both hosts with the pair named and their
 * routes, CNI config and containerd journal shown, while the other nodes pass.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { initInventory } from '../../../src/inventory/scaffold.js';
import { loadInventory, type Inventory } from '../../../src/inventory/load.js';
import { checkRole } from '../../../src/roles/check/index.js';
import { CHECK_POLL, parseProbeLog, podNameFor, proberScript } from '../../../src/roles/check/cluster-check.js';
import type { ExecResult } from '../../../src/ssh/types.js';
import { FakeFleet, type FakeMachine } from '../../../dev/fake-fleet.js';
import { createClusterRun } from '../../../src/cluster/run.js';
import { runYaml } from '../engine/playbook-harness.js';

const PLAYBOOK = '- name: Pods run and reach each other\n  hosts: k8s_cluster\n  roles: [check]\n';
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });

interface FakePod {
  name: string;
  node: string;
  role: string;
  script: string;
  ip: string;
}

interface FakeCluster {
  pods: Map<string, FakePod>;
  /** `from to` pairs whose pods cannot talk. */
  broken: Set<string>;
  /** Nodes whose server pod cannot pull its image. */
  badImage: Set<string>;
  /** `node @target` pairs (@service, @nodeport, @dns) that fail from that node's prober. */
  brokenServices: Set<string>;
  kubectl: string[];
  diagnosed: Set<string>;
}

/** kubectl as a cluster answers it: pods created run at once, with the .5 address of their node's CIDR. */
function script(cluster: FakeCluster, cidrs: Map<string, string>) {
  return (argv: readonly string[], machine: FakeMachine, options?: { stdin?: string | Buffer }): ExecResult | undefined => {
    const tool = path.posix.basename(argv[0] ?? '');
    if (tool === 'ip' || tool === 'journalctl' || tool === 'sh') {
      cluster.diagnosed.add(machine.name);
      return ok(tool === 'ip' ? '10.233.64.0/24 via 10.99.0.1 dev eth0 proto 187\n' : `${tool} output\n`);
    }
    if (tool !== 'kubectl') return undefined;
    const args = argv.slice(1).filter((a) => !a.startsWith('--kubeconfig') && !a.startsWith('--request-timeout'));
    cluster.kubectl.push(`${machine.name}: ${args.join(' ')}`);
    if (args[0] === 'delete') {
      cluster.pods.clear();
      return ok();
    }
    if (args[0] === 'create') {
      if (/^kind: Service$/m.test(String(options?.stdin ?? ''))) return ok(JSON.stringify({ kind: 'Service', spec: { clusterIP: '10.233.0.77', ports: [{ port: 8080, nodePort: 30080 }] } }));
      for (const doc of String(options?.stdin ?? '').split(/^---$/m)) {
        const pod = parseYaml(doc) as { metadata: { name: string; labels: Record<string, string> }; spec: { nodeSelector: Record<string, string>; containers: Array<{ command: string[] }> } };
        const node = pod.spec.nodeSelector['kubernetes.io/hostname']!;
        const ip = cidrs.get(node)!.replace(/0\/\d+$/, pod.metadata.labels['kprov-check/role'] === 'server' ? '5' : '6');
        cluster.pods.set(pod.metadata.name, { name: pod.metadata.name, node, role: pod.metadata.labels['kprov-check/role']!, script: pod.spec.containers[0]!.command[2]!, ip });
      }
      return ok();
    }
    if (args[0] === 'get' && args[1] === 'serviceaccount') return ok('default-token-x7k2p');
    if (args[0] === 'get' && args[1] === 'pods') {
      const role = /kprov-check\/role=(\w+)/.exec(args.join(' '))![1];
      const items = [...cluster.pods.values()]
        .filter((p) => p.role === role)
        .map((p) =>
          p.role === 'server' && cluster.badImage.has(p.node)
            ? { metadata: { name: p.name }, spec: { nodeName: p.node }, status: { phase: 'Pending', containerStatuses: [{ name: 'check', state: { waiting: { reason: 'ErrImagePull', message: 'not found' } } }] } }
            : { metadata: { name: p.name }, spec: { nodeName: p.node }, status: { phase: p.role === 'server' ? 'Running' : probeFails(cluster, p) ? 'Failed' : 'Succeeded', podIP: p.ip } },
        );
      return ok(JSON.stringify({ kind: 'PodList', items }));
    }
    if (args[0] === 'logs') {
      const pod = cluster.pods.get(args.at(-1)!)!;
      const lines = [...pod.script.matchAll(/(\S+)=(\d+\.\d+\.\d+\.\d+)/g)].map(([, node, ip]) => `${cluster.broken.has(`${pod.node} ${node}`) ? 'fail' : 'ok'} ${node} ${ip}`);
      for (const [, target, detail] of pod.script.matchAll(/echo "ok (@\w+) (\S+)"/g)) lines.push(`${cluster.brokenServices.has(`${pod.node} ${target}`) ? 'fail' : 'ok'} ${target} ${detail}`);
      return ok(`${lines.join('\n')}\n`);
    }
    return { code: 1, stdout: '', stderr: `unexpected kubectl ${args.join(' ')}` };
  };
}

const probeFails = (cluster: FakeCluster, p: FakePod) => [...cluster.broken, ...cluster.brokenServices].some((pair) => pair.startsWith(`${p.node} `));

describe('check role', () => {
  let dir: string;
  let inventory: Inventory;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kprov-check-'));
    await initInventory(path.join(dir, 'inv'), { hosts: '10.99.0.1,10.99.0.2,10.99.0.3,10.99.0.4,10.99.0.5' });
    inventory = await loadInventory(path.join(dir, 'inv'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = (cluster: FakeCluster, dryRun = false) => {
    const clusterRun = createClusterRun(inventory, { dryRun });
    const cidrs = new Map(clusterRun.topology.nodes.map((n) => [n.host.name, n.podCidr]));
    const fleet = new FakeFleet(inventory.hosts.map((h) => h.name));
    for (const m of fleet.machines.values()) m.script = script(cluster, cidrs);
    return runYaml(PLAYBOOK, { inventory, roles: [checkRole], fleet, run: clusterRun, dryRun });
  };
  const fresh = (): FakeCluster => ({ pods: new Map(), broken: new Set(), badImage: new Set(), brokenServices: new Set(), kubectl: [], diagnosed: new Set() });

  test('pure parts: pod names, the prober script and its log', () => {
    assert.equal(podNameFor('kprov-check', 'Node_1.example'), 'kprov-check-node-1.example');
    const script = proberScript([{ node: 'node2', ip: '10.233.65.5' }]);
    assert.match(script, /for t in node2=10\.233\.65\.5; do/);
    assert.match(script, /timeout 5 wget -q -O - "http:\/\/\$ip:8080\/"/);
    assert.deepEqual(parseProbeLog('ok node2 10.233.65.5\nfail node3 10.233.66.5\nnoise\n'), { ok: ['node2'], failed: [{ node: 'node3', ip: '10.233.66.5' }], detail: [] });
    const withServices = proberScript([{ node: 'node2', ip: '10.233.65.5' }], { clusterIp: '10.233.0.77:8080', nodePort: '10.99.0.1:30080', dns: { name: 'kubernetes.default.svc.cluster.local', address: '10.233.0.1' } });
    assert.match(withServices, /retry fetch 10\.233\.0\.77:8080; then echo "ok @service 10\.233\.0\.77:8080"/);
    assert.match(withServices, /retry fetch 10\.99\.0\.1:30080; then echo "ok @nodeport/);
    assert.match(withServices, /nslookup kubernetes\.default\.svc\.cluster\.local 2>&1 \| tail -n \+3 \| grep -q "10\\\.233\\\.0\\\.1"/);
  });

  test('a healthy cluster: the first control-plane host drives, every node passes, no pod is left', async () => {
    const cluster = fresh();
    const r = await run(cluster);
    assert.equal(r.result.status, 'ok', JSON.stringify(r.result.recap));
    const tasks = Object.fromEntries(r.of('host:tasks').map((e) => [e.host, e.tasks.map((t) => t.name)]));
    assert.equal(tasks['node1']![0], 'pods on 5 node(s) start and reach each other');
    assert.match(tasks['node5']![0]!, /^a pod on node5 runs in 10\.233\.\d+\.0\/24, reaches the other nodes' pods and a Service, resolves names through the cluster DNS$/);
    assert.ok(cluster.kubectl.every((c) => c.startsWith('node1: ')), 'kubectl runs only on the driving host');
    assert.match(cluster.kubectl[0]!, /^node1: delete pods,services -n default -l app.kubernetes.io\/managed-by=kprov-check/);
    assert.match(cluster.kubectl.at(-1)!, /^node1: delete pods/);
    assert.equal(cluster.pods.size, 0);
    assert.equal(cluster.diagnosed.size, 0);
  });

  test('a pair that cannot talk fails on both hosts, naming the pair with their routes; the others pass', async () => {
    const cluster = fresh();
    cluster.broken.add('node2 node4');
    const r = await run(cluster);
    assert.equal(r.result.status, 'failed');
    const failed = r.result.recap.filter((h) => h.failed > 0).map((h) => h.host).sort();
    assert.deepEqual(failed, ['node2', 'node4']);
    const failure = r.of('task:finish').find((e) => e.host === 'node4' && e.status === 'failed')!;
    assert.match(failure.error!.message, /^pods cannot talk: node2 → node4 \(10\.233\.\d+\.5:8080\): no answer within 5 s$/);
    assert.ok(failure.error!.output!.includes('ip route:'));
    assert.deepEqual([...cluster.diagnosed].sort(), ['node2', 'node4']);
    assert.equal(cluster.pods.size, 0, 'cleaned up after a failure too');
  });

  test("a node whose node port does not answer, or whose pod cannot resolve cluster names, fails on its own host", async () => {
    const cluster = fresh();
    cluster.brokenServices.add('node3 @nodeport');
    cluster.brokenServices.add('node4 @dns');
    const r = await run(cluster);
    assert.deepEqual(r.result.recap.filter((h) => h.failed > 0).map((h) => h.host), ['node3', 'node4']);
    const message = (host: string) => r.of('task:finish').find((e) => e.host === host && e.status === 'failed')!.error!.message;
    assert.match(message('node3'), /^a pod on node3 got no answer from node3's node port 10\.99\.0\.3:30080 within 20 s/);
    assert.match(message('node4'), /^a pod on node4 could not resolve kubernetes\.default\.svc\.cluster\.local through the cluster DNS/);
    assert.equal(cluster.pods.size, 0);
  });

  test('a pod stuck on its image fails its node after a few looks, not at check_timeout; the others pass', async () => {
    const saved = { ...CHECK_POLL };
    Object.assign(CHECK_POLL, { intervalMs: 5, stuckLooks: 3 });
    try {
      const cluster = fresh();
      cluster.badImage.add('node3');
      const started = Date.now();
      const r = await run(cluster);
      assert.ok(Date.now() - started < 10_000, 'well before check_timeout');
      assert.deepEqual(r.result.recap.filter((h) => h.failed > 0).map((h) => h.host), ['node3']);
      const failure = r.of('task:finish').find((e) => e.host === 'node3' && e.status === 'failed')!;
      assert.match(failure.error!.message, /^pod kprov-check-node3 is not running after \d+ s: Pending \(ErrImagePull: not found\)$/);
      assert.equal(cluster.pods.size, 0);
    } finally {
      Object.assign(CHECK_POLL, saved);
    }
  });

  test('a plan creates nothing', async () => {
    const cluster = fresh();
    const r = await run(cluster, true);
    assert.equal(r.result.status, 'ok');
    assert.deepEqual(cluster.kubectl, []);
  });
});
