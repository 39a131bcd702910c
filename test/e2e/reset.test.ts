/**
 * `kprov apply reset` on a 2-host lab (node1 control plane + etcd + node, node2 a worker):
 *   1. every path under /etc /usr/local /var/lib /opt /run/systemd is recorded on both hosts, then
 *      a cluster is applied and a pod runs on node2 (real kubectl);
 *   2. reset without a terminal and without --yes refuses (exit 2) and changes nothing;
 *   3. `apply reset --yes`: afterwards no kprov unit, process, container, pod route, cni0 link or
 *      KUBE-/CNI- chain is left, and the paths differ from the first record only by what
 *      EXPECTED_LEFTOVERS lists (with why); a second reset changes nothing;
 *   4. `apply cluster` on the reset hosts builds a working cluster again (both nodes Ready).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RELEASE_DIR, startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import { kprovBin } from '../../dev/lab-hosts.js';
import { labSkipReason } from '../support/lab.js';
import { jsonEvents } from '../support/kprov-process.js';
import { eventsOf } from '../support/run-events.js';

const NAME = 'e2e-reset';
const HOSTS = ['node1', 'node2'];
const ROOTS = ['/etc', '/usr/local', '/var/lib', '/opt', '/run/systemd'];

/**
 * Paths a reset host may differ by from its first record, and why: state of the host's own
 * tools that the cluster run caused but that is not kprov's to remove.
 */
const EXPECTED_LEFTOVERS: Array<[RegExp, string]> = [
  [/^\/run\/systemd\/transient(\/|$)/, 'systemd makes this directory for the first transient unit on the host (a pod\'s scope or a login session) and keeps it'],
];

const explained = (p: string) => EXPECTED_LEFTOVERS.some(([re]) => re.test(p));

describe('kprov apply reset on a 2-host lab', { skip: labSkipReason(), concurrency: false }, () => {
  let lab: ClusterLab;
  const before0 = new Map<string, Set<string>>();

  before(async () => {
    lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
    const ips = Object.fromEntries(lab.hosts.map((h) => [h.name, h.address]));
    const line = (h: string) => `${h} ansible_host=${ips[h]} ip=${ips[h]} access_ip=${ips[h]}`;
    await writeFile(
      path.join(lab.inventoryDir, 'inventory.ini'),
      `[all]\n${HOSTS.map(line).join('\n')}\n\n[kube_control_plane]\nnode1\n\n[etcd]\nnode1\n\n[kube_node]\nnode2\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`,
    );
  });
  after(async () => {
    await lab?.stop();
  });

  /** Every path (with its type) under ROOTS on a host. */
  async function paths(host: string): Promise<Set<string>> {
    const r = await lab.exec(host, ['sh', '-c', `find ${ROOTS.join(' ')} -xdev -printf '%y %p\\n' 2>/dev/null; true`]);
    return new Set(r.stdout.split('\n').filter((l) => l !== ''));
  }

  const kprov = (args: string[], timeoutMs = 600_000) => lab.inLab([process.execPath, kprovBin, ...args, '-i', lab.inventoryDir], { timeoutMs });

  test('a cluster with a running pod, recorded before its first apply', async () => {
    for (const h of HOSTS) before0.set(h, await paths(h));
    const applied = await kprov(['apply', 'cluster', '--json']);
    assert.equal(applied.code, 0, applied.stderr);
    const kubectl = lab.release.artifacts.find((a) => a.name === 'kubectl')!;
    const adminConf = path.join(lab.inventoryDir, 'artifacts', 'admin.conf');
    const run = await lab.inLab([path.join(RELEASE_DIR, kubectl.urlPath), '--kubeconfig', adminConf, 'run', 'sleeper', '--image=docker.io/kprov/workload:1', '--restart=Never', '--command', '--', 'sleep', '3600'], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    let containers = '';
    for (let i = 0; i < 90 && containers.split('\n').filter(Boolean).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      containers = (await lab.exec('node2', ['ctr', '-n', 'k8s.io', 'containers', 'ls', '-q'])).stdout.trim();
    }
    assert.ok(containers.split('\n').length >= 2, `the pod's sandbox and container run on node2: ${containers}`);
  });

  test('without a terminal and without --yes, reset refuses and changes nothing', async () => {
    const r = await kprov(['apply', 'reset']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /"Reset cluster hosts" on 2 host\(s\): node1, node2\. This cannot be undone\. Not confirmed: nothing was changed/);
    assert.match(r.stderr, /--yes, or -e reset_confirmation=yes/);
    assert.equal((await lab.exec('node1', ['systemctl', 'is-active', 'kube-apiserver'])).stdout.trim(), 'active');
  });

  test('reset --yes removes everything kprov put there; a second reset changes nothing', async () => {
    const started = Date.now();
    const r = await kprov(['apply', 'reset', '--yes', '--json']);
    const events = jsonEvents(r.stdout);
    assert.equal(r.code, 0, r.stderr + eventsOf(events, 'host:finish').map((e) => e.error?.message ?? '').join('\n'));
    console.log(`measured: reset of 2 hosts ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const h of HOSTS) {
      // Each look its own command, one after the other: pgrep must not find the command line of
      // another look (systemctl's `etcd*` argument matched it when they ran at once).
      const looks = [];
      for (const argv of [
        ['pgrep', '-a', '-f', 'kube-|etcd|containerd|kubelet'],
        ['ip', 'route', 'show', 'proto', '147'],
        ['sh', '-c', 'ls /run/netns 2>/dev/null; ip -o link show cni0 2>/dev/null; true'],
        ['sh', '-c', '(iptables-save 2>/dev/null || true) | grep -E "^:(KUBE|CNI)-"; true'],
        // The lab's own units (kprov-lab-*) are the lab's, not the cluster's.
        ['systemctl', 'list-unit-files', 'kube*', 'etcd*', 'containerd*', 'kprov-pod*', 'kprov-etcd*', '--no-legend'],
      ]) {
        looks.push(await lab.exec(h, argv));
      }
      const left = { stdout: looks.map((r) => r.stdout.trim()).filter((t) => t !== '').join('\n') };
      assert.equal(left.stdout.trim(), '', `${h}: nothing of the cluster is left running or configured:\n${left.stdout}`);
      const now = await paths(h);
      const allAdded = [...now].filter((p) => !before0.get(h)!.has(p)).map((p) => p.slice(2));
      console.log(`${h}: differences explained by EXPECTED_LEFTOVERS: ${allAdded.filter(explained).join(', ') || 'none'}`);
      const added = allAdded.filter((p) => !explained(p));
      const removed = [...before0.get(h)!].filter((p) => !now.has(p)).map((p) => p.slice(2)).filter((p) => !explained(p));
      assert.deepEqual(added, [], `${h}: paths left behind by the cluster`);
      assert.deepEqual(removed, [], `${h}: paths reset removed that were there before the cluster`);
    }
    const again = await kprov(['apply', 'reset', '--yes', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const againEvents = jsonEvents(again.stdout);
    const changes = eventsOf(againEvents, 'task:finish').flatMap((e) => e.changes.map((c) => `${e.host}: ${c.summary}`));
    assert.deepEqual(changes, [], 'a second reset changes nothing');
  });

  test('apply cluster on the reset hosts builds a working cluster again', async () => {
    const r = await kprov(['apply', 'cluster', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const kubectl = lab.release.artifacts.find((a) => a.name === 'kubectl')!;
    const nodes = await lab.inLab([path.join(RELEASE_DIR, kubectl.urlPath), '--kubeconfig', path.join(lab.inventoryDir, 'artifacts', 'admin.conf'), 'get', 'nodes', '--no-headers'], { timeoutMs: 30_000 });
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.equal(nodes.stdout.trim().split('\n').filter((l) => /\sReady\s/.test(l)).length, 2, nodes.stdout);
  });
});
