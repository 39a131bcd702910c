/**
 * `kprov apply cluster` end to end on a 5-host lab (node1–3 control plane + etcd, node4–5
 * workers; the lab inventory's layout) serving the stand-in v1.13 release. The tests run in
 * order on one lab and build on each other:
 *   1. a fresh apply gives a cluster the real etcdctl and the real kubectl find healthy;
 *   2. a second apply changes nothing, restarts nothing and uploads nothing;
 *   then pods: `kprov apply check` passes (a pod on every node reaches every other node's pod);
 *   the real kubectl runs a pod (scheduled, Running, -o wide, logs) and deleting it removes its
 *   containers from containerd; a deleted pod route fails the check naming the pair, and a
 *   re-apply restores it; an application (Deployment scaled to 2, NodePort Service) answers
 *   curl on every node, a deleted pod is replaced, and its name resolves from every node;
 *   3. changing kube_proxy_mode rewrites only kube-proxy's config and restarts only kube-proxy;
 *   4. a template with a flag value the stand-in rejects fails naming host, unit and the
 *      stand-in's error line; the original templates then repair the cluster.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunEvent } from '../../src/engine/events.js';
import { pinVariables, RELEASE_DIR, startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import { APP, createApp, curlNodePorts, nodePortOf, resolveFromEveryNode, waitForEndpoints, type Run } from '../../dev/app-journey.js';
import { kprovBin } from '../../dev/lab-hosts.js';
import { labSkipReason } from '../support/lab.js';
import { eventsOf } from '../support/run-events.js';
import { copyPackage } from '../support/package-copy.js';

const NAME = 'e2e-cluster';
const skip = labSkipReason();

const CONTROL_PLANE = ['node1', 'node2', 'node3'];
const ALL = ['node1', 'node2', 'node3', 'node4', 'node5'];
const NODE_UNITS = ['containerd', 'kubelet', 'kube-proxy'];
const CONTROL_PLANE_UNITS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const unitsOf = (host: string) => (CONTROL_PLANE.includes(host) ? [...CONTROL_PLANE_UNITS, ...NODE_UNITS] : NODE_UNITS);
const ETCD_CERTS = '/etc/ssl/etcd/ssl';

interface Applied {
  code: number;
  events: RunEvent[];
  ms: number;
  stdout: string;
  stderr: string;
}

function parseEvents(stdout: string): RunEvent[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as RunEvent);
}

/** This package, built, in `dir` (its templates can then be edited without touching the repository's). */
const of = eventsOf;

describe('kprov apply cluster on a 5-host lab', { skip, concurrency: false }, () => {
  let lab: ClusterLab;
  let kubectl: string;
  let work: string;

  before(async () => {
    lab = await startClusterLab({ name: NAME, hosts: 5 });
    const artifact = lab.release.artifacts.find((a) => a.name === 'kubectl');
    assert.ok(artifact, 'the release has kubectl');
    kubectl = path.join(RELEASE_DIR, artifact.urlPath);
    work = await mkdtemp(path.join(tmpdir(), 'kprov-e2e-cluster-'));
  });
  after(async () => {
    await lab?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** `kprov apply cluster --json`, by default with this package's kprov, inside the lab namespace. */
  async function apply(extra: string[] = [], kprov = kprovBin): Promise<Applied> {
    const started = Date.now();
    const r = await lab.inLab([process.execPath, kprov, 'apply', 'cluster', '-i', lab.inventoryDir, '--json', ...extra], { timeoutMs: 600_000 });
    return { code: r.code, events: parseEvents(r.stdout), ms: Date.now() - started, stdout: r.stdout, stderr: r.stderr };
  }

  /** Every failure of a run, as the plain renderer would show it (for assertion messages). */
  function failures(run: Applied): string {
    const lines = of(run.events, 'host:finish')
      .filter((e) => e.error)
      .map((e) => `${e.host}: ${e.step}: ${e.error!.message}\n  ${(e.error!.output ?? []).join('\n  ')}`);
    return `${lines.join('\n')}\n${run.stderr}`;
  }

  /** The real kubectl from the release, inside the lab namespace, with a kubeconfig. */
  async function kubectlJson<T>(kubeconfig: string, args: string[]): Promise<T> {
    const r = await lab.inLab([kubectl, '--kubeconfig', kubeconfig, ...args, '-o', 'json'], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** Each unit's InvocationID per host: a restart gives a new one. */
  async function invocations(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    await Promise.all(
      ALL.map(async (host) => {
        const units = unitsOf(host);
        const r = await lab.exec(host, ['systemctl', 'show', '--property=Id,InvocationID', '--', ...units]);
        assert.equal(r.code, 0, r.stderr);
        for (const block of r.stdout.trim().split(/\n\s*\n/)) {
          const id = /^Id=(.+)$/m.exec(block)?.[1];
          const inv = /^InvocationID=(.*)$/m.exec(block)?.[1];
          assert.ok(id && inv, `${host}: ${block}`);
          out[`${host} ${id}`] = inv;
        }
      }),
    );
    return out;
  }

  /** Inode and mtime of every installed binary: an upload replaces the file (new inode). */
  async function binaries(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    await Promise.all(
      ALL.map(async (host) => {
        const r = await lab.exec(host, ['sh', '-c', 'stat -c "%n %i %Y %s" /usr/local/bin/* /opt/cni/bin/*']);
        assert.equal(r.code, 0, r.stderr);
        for (const line of r.stdout.trim().split('\n')) {
          const [file, ...rest] = line.split(' ');
          out[`${host} ${file}`] = rest.join(' ');
        }
      }),
    );
    return out;
  }

  test('a fresh apply builds a cluster the real etcdctl and kubectl find healthy', async () => {
    const run = await apply();
    assert.equal(run.code, 0, failures(run));
    const finish = of(run.events, 'run:finish')[0]!;
    assert.equal(finish.status, 'ok');
    assert.deepEqual(finish.recap.map((r) => r.host), ALL);
    console.log(`fresh apply: ${(run.ms / 1000).toFixed(1)} s (run ${(finish.durationMs / 1000).toFixed(1)} s)`);

    // The verify play ran on every host and passed.
    const verified = of(run.events, 'task:finish').filter((e) => e.role === 'verify');
    assert.ok(verified.length >= 5 && verified.every((e) => e.status === 'ok'), JSON.stringify(verified));

    // Real etcdctl, on an etcd host, with the health-check client certificate: 3 healthy members.
    const endpoints = CONTROL_PLANE.map((_, i) => `https://10.213.0.${11 + i}:2379`).join(',');
    const etcdctl = ['/usr/local/bin/etcdctl', `--endpoints=${endpoints}`, `--cacert=${ETCD_CERTS}/ca.crt`, `--cert=${ETCD_CERTS}/healthcheck-client.crt`, `--key=${ETCD_CERTS}/healthcheck-client.key`];
    const health = await lab.exec('node1', [...etcdctl, 'endpoint', 'health'], { env: { ...process.env, ETCDCTL_API: '3' } });
    assert.equal(health.code, 0, health.stderr);
    assert.equal((`${health.stdout}${health.stderr}`.match(/ is healthy: /g) ?? []).length, 3, health.stdout + health.stderr);
    const members = await lab.exec('node1', [...etcdctl, 'member', 'list', '-w', 'json']);
    assert.equal(members.code, 0, members.stderr);
    const memberNames = (JSON.parse(members.stdout) as { members: { name: string }[] }).members.map((m) => m.name).sort();
    assert.deepEqual(memberNames, CONTROL_PLANE);
    // The same through `kprov etcdctl`: the real etcdctl on a member, with the cluster's certificates.
    const keys = await lab.kprov(['etcdctl', '-i', lab.inventoryDir, '--', 'get', '/registry/', '--prefix', '--keys-only']);
    assert.equal(keys.code, 0, keys.stderr);
    assert.match(keys.stdout, /^\/registry\/minions\/node1$/m, 'what Kubernetes stores');
    const failing = await lab.kprov(['etcdctl', '-i', lab.inventoryDir, '--host', 'node2', '--', 'no-such-command']);
    assert.notEqual(failing.code, 0, "etcdctl's own exit status");
    // A snapshot from a healthy member, kept in the inventory with its sha256 and the member list.
    const backup = await lab.kprov(['etcd', 'backup', '-i', lab.inventoryDir]);
    assert.equal(backup.code, 0, backup.stderr);
    const listed = await lab.kprov(['etcd', 'backup', '--list', '-i', lab.inventoryDir]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /etcd-\d{8}T\d{6}Z\.db .* members node1,node2,node3 {2}sha256 ok$/m);

    // The admin kubeconfig, kept in the inventory, 0600; the real kubectl sees 5 Ready nodes.
    const adminConf = path.join(lab.inventoryDir, 'artifacts', 'admin.conf');
    assert.equal((await stat(adminConf)).mode & 0o777, 0o600);
    const nodes = await kubectlJson<{ items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[] }>(adminConf, ['get', 'nodes']);
    assert.deepEqual(nodes.items.map((n) => n.metadata.name).sort(), ALL);
    for (const n of nodes.items) {
      assert.equal(n.status.conditions.find((c) => c.type === 'Ready')?.status, 'True', `${n.metadata.name} Ready`);
    }
    const cs = await kubectlJson<{ items: { metadata: { name: string }; conditions: { type: string; status: string }[] }[] }>(adminConf, ['get', 'componentstatuses']);
    assert.deepEqual(cs.items.map((c) => c.metadata.name).sort(), ['controller-manager', 'etcd-0', 'etcd-1', 'etcd-2', 'scheduler']);
    for (const c of cs.items) assert.equal(c.conditions.find((x) => x.type === 'Healthy')?.status, 'True', `${c.metadata.name} healthy`);

    // `kprov kubeconfig` prints a kubeconfig the real kubectl works with.
    const printed = await lab.kprov(['kubeconfig', '-i', lab.inventoryDir]);
    assert.equal(printed.code, 0, printed.stderr);
    const copy = path.join(work, 'kubeconfig');
    await writeFile(copy, printed.stdout, { mode: 0o600 });
    const viaPrinted = await kubectlJson<{ items: unknown[] }>(copy, ['get', 'nodes']);
    assert.equal(viaPrinted.items.length, 5);

    // The cluster DNS add-on: CoreDNS's Deployment available, its Service at skydns_server.
    const deploy = await kubectlJson<{ spec: { replicas: number }; status: { availableReplicas?: number } }>(adminConf, ['-n', 'kube-system', 'get', 'deployment', 'coredns']);
    assert.ok((deploy.status.availableReplicas ?? 0) >= 1, JSON.stringify(deploy.status));
    const dnsService = await kubectlJson<{ spec: { clusterIP: string } }>(adminConf, ['-n', 'kube-system', 'get', 'service', 'coredns']);
    assert.equal(dnsService.spec.clusterIP, '10.233.0.3');

    // The node-local API proxy: a static pod on each worker (its mirror pod Running), which the
    // worker's kubelet and kube-proxy use; control-plane hosts use their own API server.
    const pods = await kubectlJson<{ items: { metadata: { name: string }; spec: { nodeName: string }; status: { phase: string } }[] }>(adminConf, ['-n', 'kube-system', 'get', 'pods']);
    const proxies = pods.items.filter((p) => p.metadata.name.startsWith('nginx-proxy-'));
    assert.deepEqual(proxies.map((p) => `${p.metadata.name} ${p.spec.nodeName} ${p.status.phase}`).sort(), ['nginx-proxy-node4 node4 Running', 'nginx-proxy-node5 node5 Running']);
    for (const [host, server] of [['node4', 'https://127.0.0.1:6443'], ['node1', 'https://127.0.0.1:6443']] as const) {
      const conf = await lab.exec(host, ['grep', '-h', 'server:', '/etc/kubernetes/kubelet.conf', '/etc/kubernetes/kube-proxy.conf']);
      assert.deepEqual(conf.stdout.trim().split('\n').map((l) => l.trim()), [`server: ${server}`, `server: ${server}`], `${host}'s kubelet and kube-proxy`);
    }
  });

  /** resourceVersion of each object kprov's DNS add-on made. */
  async function addonVersions(): Promise<Record<string, string>> {
    const adminConf = path.join(lab.inventoryDir, 'artifacts', 'admin.conf');
    const list = await kubectlJson<{ items: { kind: string; metadata: { name: string; resourceVersion: string } }[] }>(adminConf, [
      'get',
      'serviceaccount/coredns',
      'configmap/coredns',
      'deployment/coredns',
      'service/coredns',
      '-n',
      'kube-system',
    ]);
    return Object.fromEntries(list.items.map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion]));
  }

  test('a second apply changes nothing, restarts nothing and uploads nothing', async () => {
    const unitsBefore = await invocations();
    const binsBefore = await binaries();
    const addonBefore = await addonVersions();
    const run = await apply();
    assert.equal(run.code, 0, failures(run));
    const finish = of(run.events, 'run:finish')[0]!;
    console.log(`no-op re-apply: ${(run.ms / 1000).toFixed(1)} s (run ${(finish.durationMs / 1000).toFixed(1)} s)`);
    for (const r of finish.recap) assert.equal(r.changed, 0, `${r.host} changed ${r.changed} task(s)`);
    const changed = of(run.events, 'task:finish').filter((e) => e.status !== 'ok');
    assert.deepEqual(changed.map((e) => `${e.host} ${e.role}: ${e.task} ${e.status}`), []);
    assert.deepEqual(of(run.events, 'handler:start'), [], 'no handler ran');
    assert.deepEqual(await invocations(), unitsBefore, 'no unit was restarted');
    assert.deepEqual(await binaries(), binsBefore, 'no binary was uploaded');
    assert.deepEqual(await addonVersions(), addonBefore, 'the DNS add-on was not written');
  });

  /** `kprov apply check --json` inside the lab namespace. */
  async function check(): Promise<Applied> {
    const started = Date.now();
    const r = await lab.inLab([process.execPath, kprovBin, 'apply', 'check', '-i', lab.inventoryDir, '--json'], { timeoutMs: 400_000 });
    return { code: r.code, events: parseEvents(r.stdout), ms: Date.now() - started, stdout: r.stdout, stderr: r.stderr };
  }

  /** The real kubectl with the admin kubeconfig, inside the lab namespace. */
  function kubectlRun(args: string[], timeoutMs = 60_000, input?: string) {
    return lab.inLab([kubectl, '--kubeconfig', path.join(lab.inventoryDir, 'artifacts', 'admin.conf'), ...args], { timeoutMs, ...(input !== undefined ? { input } : {}) });
  }

  test('kprov apply check: a pod on every node runs in its pod CIDR and reaches every other node\'s pod', async () => {
    const run = await check();
    assert.equal(run.code, 0, failures(run));
    const checked = of(run.events, 'task:finish').filter((e) => e.role === 'check');
    assert.equal(checked.filter((e) => /^a pod on node\d runs in /.test(e.task) && e.status === 'ok').length, 5, JSON.stringify(checked));
    console.log(`measured: kprov apply check on 5 nodes ${(run.ms / 1000).toFixed(1)} s`);
    const left = await kubectlRun(['get', 'pods', '-l', 'app.kubernetes.io/managed-by=kprov-check', '-o', 'name']);
    assert.equal(left.stdout.trim(), '', 'the check removed its pods');
  });

  test('the real kubectl runs a pod: scheduled, Running, listed wide, its logs; delete removes its containers', async () => {
    const started = Date.now();
    const created = await kubectlRun(['run', 'hello', '--image=docker.io/kprov/workload:1', '--restart=Never', '--command', '--', 'sh', '-c', 'echo hello from $(hostname); exec sleep 3600']);
    assert.equal(created.code, 0, created.stderr);
    let row = '';
    for (let i = 0; i < 90 && !/\sRunning\s/.test(row); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      row = (await kubectlRun(['get', 'pod', 'hello', '-o', 'wide', '--no-headers'])).stdout;
    }
    console.log(`measured: kubectl run to Running ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // The lab's masters are in kube_node too (Kubespray's sample layout), so untainted.
    const m = /^hello\s+1\/1\s+Running\s+0\s+\S+\s+(10\.233\.\d+\.\d+)\s+(node\d)\s/.exec(row);
    assert.ok(m, `scheduled and running, with its IP and node: ${row}`);
    const node = m[2]!;
    const logs = await kubectlRun(['logs', 'hello']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout.trim(), 'hello from hello');
    // Only this pod's containers (CoreDNS may run on the same node).
    const containersOfHello = ['ctr', '-n', 'k8s.io', 'containers', 'ls', '-q', 'labels."io.kubernetes.pod.name"==hello'];
    const before = await lab.exec(node, containersOfHello);
    assert.ok(before.stdout.trim().split('\n').length >= 2, `sandbox and container exist on ${node}: ${before.stdout}`);
    // sleep as PID 1 ignores SIGTERM: a short grace period keeps the test from waiting the default 30 s.
    const deleted = await kubectlRun(['delete', 'pod', 'hello', '--grace-period=2', '--timeout=60s']);
    assert.equal(deleted.code, 0, deleted.stderr);
    let after = before.stdout;
    for (let i = 0; i < 30 && after.trim() !== ''; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      after = (await lab.exec(node, containersOfHello)).stdout;
    }
    assert.equal(after.trim(), '', `no container left on ${node}`);
  });

  test('an application: a Deployment scaled to 2 and exposed as a NodePort answers on every node; a deleted pod is replaced; DNS resolves it from every node', async () => {
    const run: Run = (args, options) => kubectlRun([...args], options?.timeoutMs ?? 60_000, options?.input);
    const started = Date.now();
    await createApp(run);
    const endpoints = await waitForEndpoints(run, 2, 120_000);
    console.log(`measured: create, scale, expose to 2 ready endpoints ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const port = await nodePortOf(run);
    assert.ok(port >= 30000 && port <= 32767, `node port ${port} in the default range`);
    const hosts = ALL.map((name, i) => ({ name, ip: `10.213.0.${11 + i}` }));
    const inLab: Run = (argv, options) => lab.inLab([...argv], { timeoutMs: options?.timeoutMs ?? 30_000 });
    const answers = await curlNodePorts(inLab, hosts, port);
    for (const a of answers) assert.ok(endpoints.some((e) => e.pod === a.answer), `${a.url} answered by one of the pods ${endpoints.map((e) => e.pod).join(', ')}: "${a.answer}"`);

    // A deleted pod is replaced: two ready endpoints again, the deleted one not among them.
    const gone = endpoints[0]!.pod;
    const deleted = await kubectlRun(['delete', 'pod', gone, '--grace-period=1', '--wait=false']);
    assert.equal(deleted.code, 0, deleted.stderr);
    const replaced = await waitForEndpoints(run, 2, 120_000, [gone]);
    assert.ok(!replaced.some((e) => e.pod === gone));

    // The cluster DNS, from a pod on every node: the Service's name resolves and answers.
    const resolved = await resolveFromEveryNode(run, ALL, 'cluster.local', 120_000);
    for (const r of resolved) assert.ok(r.ok, `${r.node}: ${r.log}`);
    const cleanup = await kubectlRun(['delete', 'deployment,service', APP, '--wait=true', '--timeout=60s'], 90_000);
    assert.equal(cleanup.code, 0, cleanup.stderr);
  });

  test('HA: with kube-apiserver stopped on node1, the workers stay Ready through their proxies and a new pod runs on node4', async () => {
    // kubectl through node2 meanwhile (admin.conf points at node1, the first control-plane host).
    const viaNode2 = path.join(work, 'admin-node2.conf');
    const admin = await readFile(path.join(lab.inventoryDir, 'artifacts', 'admin.conf'), 'utf8');
    await writeFile(viaNode2, admin.replace(/server: https:\/\/[^\s]+/, 'server: https://10.213.0.12:6443'), { mode: 0o600 });
    const k = (args: string[]) => lab.inLab([kubectl, '--kubeconfig', viaNode2, ...args], { timeoutMs: 30_000 });
    const stopped = await lab.exec('node1', ['systemctl', 'stop', 'kube-apiserver.service']);
    assert.equal(stopped.code, 0, stopped.stderr);
    try {
      // Past the controller manager's node-monitor-grace-period (40 s): a node that lost the API would be NotReady.
      await new Promise((r) => setTimeout(r, 45_000));
      const nodes = JSON.parse((await k(['get', 'nodes', '-o', 'json'])).stdout) as { items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[] };
      for (const name of ['node4', 'node5']) {
        const n = nodes.items.find((x) => x.metadata.name === name);
        assert.equal(n?.status.conditions.find((c) => c.type === 'Ready')?.status, 'True', `${name} Ready without node1's API server`);
      }
      const created = await k(['run', 'ha-probe', '--image=docker.io/kprov/workload:1', '--restart=Never', '--overrides={"apiVersion":"v1","spec":{"nodeSelector":{"kubernetes.io/hostname":"node4"}}}']);
      assert.equal(created.code, 0, created.stderr);
      let row = '';
      for (let i = 0; i < 60 && !/\sRunning\s/.test(row); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 1000));
        row = (await k(['get', 'pod', 'ha-probe', '-o', 'wide', '--no-headers'])).stdout;
      }
      assert.match(row, /^ha-probe\s+1\/1\s+Running\s.*\snode4\s/, row);
      await k(['delete', 'pod', 'ha-probe', '--grace-period=1', '--wait=false']);
    } finally {
      const started = await lab.exec('node1', ['systemctl', 'start', 'kube-apiserver.service']);
      assert.equal(started.code, 0, started.stderr);
    }
    // node1's API server answers again before the next test.
    let healthy = false;
    for (let i = 0; i < 60 && !healthy; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      healthy = (await kubectlRun(['get', '--raw', '/healthz'], 10_000)).stdout.trim() === 'ok';
    }
    assert.ok(healthy, "node1's API server is back");
  });

  test('loadbalancer_apiserver_type: haproxy replaces the proxy on the workers only, restarting nothing; and back', async () => {
    const proxiesOn = async () => {
      const pods = await kubectlJson<{ items: { metadata: { name: string }; status: { phase: string } }[] }>(path.join(lab.inventoryDir, 'artifacts', 'admin.conf'), ['-n', 'kube-system', 'get', 'pods']);
      return pods.items.filter((p) => /^(nginx-proxy|haproxy)-/.test(p.metadata.name)).map((p) => `${p.metadata.name} ${p.status.phase}`).sort();
    };
    const unitsBefore = await invocations();
    for (const [type, expected] of [['haproxy', ['haproxy-node4 Running', 'haproxy-node5 Running']], ['nginx', ['nginx-proxy-node4 Running', 'nginx-proxy-node5 Running']]] as const) {
      await pinVariables(lab.inventoryDir, { loadbalancer_apiserver_type: type });
      const run = await apply();
      assert.equal(run.code, 0, failures(run));
      const changedHosts = [...new Set(of(run.events, 'task:finish').filter((e) => e.status === 'changed').map((e) => e.host))].sort();
      assert.deepEqual(changedHosts, ['node4', 'node5'], `${type}: only the workers change`);
      assert.deepEqual(of(run.events, 'handler:start').map((e) => `${e.host} ${e.handler}`), [], `${type}: no restart`);
      // The old mirror pod goes and the new one runs (the kubelet reads its manifests every 20 s).
      let listed: string[] = [];
      for (let i = 0; i < 60 && JSON.stringify(listed) !== JSON.stringify(expected); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 1000));
        listed = await proxiesOn();
      }
      assert.deepEqual(listed, expected, type);
    }
    assert.deepEqual(await invocations(), unitsBefore, 'no unit restarted');
  });

  test('a deleted pod route fails the check naming the pair; a re-apply restores it and the check passes', async () => {
    const cidrs = await kubectlJson<{ items: { metadata: { name: string }; spec: { podCIDR?: string } }[] }>(path.join(lab.inventoryDir, 'artifacts', 'admin.conf'), ['get', 'nodes']);
    const node5Cidr = cidrs.items.find((n) => n.metadata.name === 'node5')?.spec.podCIDR;
    assert.ok(node5Cidr, 'node5 has a pod CIDR');
    const del = await lab.exec('node4', ['ip', 'route', 'del', node5Cidr]);
    assert.equal(del.code, 0, del.stderr);
    const broken = await check();
    assert.equal(broken.code, 1, 'the check fails');
    const failed = of(broken.events, 'task:finish').filter((e) => e.role === 'check' && e.status === 'failed');
    assert.deepEqual(failed.map((e) => e.host).sort(), ['node4', 'node5']);
    for (const f of failed) {
      assert.match(f.error!.message, /node4 → node5 \(10\.233\.\d+\.\d+:8080\)/, f.error!.message);
      assert.ok(f.error!.output!.includes('ip route:'), 'the routes are shown');
    }
    const repaired = await apply();
    assert.equal(repaired.code, 0, failures(repaired));
    const again = await check();
    assert.equal(again.code, 0, failures(again));
  });

  test('changing kube_proxy_mode touches only kube-proxy', async () => {
    const unitsBefore = await invocations();
    await pinVariables(lab.inventoryDir, { kube_proxy_mode: 'ipvs' });
    const run = await apply();
    assert.equal(run.code, 0, failures(run));
    const changed = of(run.events, 'task:finish').filter((e) => e.status === 'changed');
    const paths = changed.flatMap((e) => e.changes.map((c) => `${e.host} ${c.path ?? c.summary}`));
    assert.ok(changed.length > 0, 'something changed');
    for (const e of changed) {
      assert.equal(e.role, 'node', `only the node role changes: ${e.host} ${e.role}: ${e.task}`);
      for (const c of e.changes) assert.match(c.path ?? '', /kube-proxy/, `only kube-proxy's files change: ${paths.join(', ')}`);
    }
    assert.deepEqual([...new Set(changed.map((e) => e.host))].sort(), ALL, 'every node gets the new mode');
    const handlers = of(run.events, 'handler:start').map((e) => `${e.host} ${e.handler}`);
    assert.deepEqual(new Set(handlers.map((h) => h.split(' ').slice(1).join(' '))), new Set(['restart kube-proxy']), handlers.join(', '));

    const unitsAfter = await invocations();
    for (const [key, id] of Object.entries(unitsBefore)) {
      if (key.endsWith(' kube-proxy.service')) assert.notEqual(unitsAfter[key], id, `${key} restarted`);
      else assert.equal(unitsAfter[key], id, `${key} not restarted`);
    }
    const config = await lab.exec('node4', ['cat', '/var/lib/kube-proxy/config.yaml']);
    assert.match(config.stdout, /^mode: "?ipvs"?$/m);
  });

  test('a flag value the stand-in rejects fails naming the host, the unit and the stand-in\'s error', async () => {
    // kprov as installed, but kube-apiserver's serving certificate is a file that does not exist:
    // a flag v1.13 accepts (so the flag check passes) with a value the stand-in refuses.
    const copy = await copyPackage(path.join(work, 'kprov'));
    const unitFile = path.join(copy, 'templates', 'control-plane', 'kube-apiserver.service.j2');
    const unit = await readFile(unitFile, 'utf8');
    const missing = '/etc/kubernetes/ssl/kprov-missing.crt';
    const edited = unit.replace(/--tls-cert-file=[^\n]*?( \\)?$/m, `--tls-cert-file=${missing}$1`);
    assert.notEqual(edited, unit, 'the unit template sets --tls-cert-file');
    await writeFile(unitFile, edited);
    const unitsBefore = await invocations();

    const run = await apply([], path.join(copy, 'bin', 'kprov.js'));
    assert.equal(run.code, 1, `apply should fail:\n${run.stdout.slice(-3000)}`);
    const failed = of(run.events, 'handler:finish').filter((e) => e.status === 'failed');
    const hostFailed = of(run.events, 'host:finish').filter((e) => e.status === 'failed');
    const reports = [...failed.map((e) => ({ host: e.host, error: e.error })), ...hostFailed.map((e) => ({ host: e.host, error: e.error }))];
    assert.ok(reports.length > 0, 'a failure is reported');
    const first = reports[0]!;
    // Rolling restarts: the first control-plane host fails, and the others are never restarted.
    assert.equal(first.host, 'node1', JSON.stringify(reports, null, 1));
    const text = `${first.error!.message}\n${(first.error!.output ?? []).join('\n')}`;
    console.log(`the failure as reported:\n${first.host}: ${text}`);
    assert.match(text, /kube-apiserver/, 'names the unit');
    assert.ok(text.includes(missing), `shows the stand-in's error line:\n${text}`);
    assert.match(text, /Error: /, `the stand-in's own error line:\n${text}`);
    const unitsAfter = await invocations();
    for (const host of ['node2', 'node3']) {
      assert.equal(unitsAfter[`${host} kube-apiserver.service`], unitsBefore[`${host} kube-apiserver.service`], `${host} kube-apiserver untouched`);
    }

    // The original templates put it right again.
    const repaired = await apply();
    assert.equal(repaired.code, 0, failures(repaired));
  });
});

