/**
 * The stand-in kubelet runs pods through containerd's CRI on a 2-host lab that kprov applied
 * (node1 control plane + etcd + node, node2 node), with the lab registry's images:
 *   1. a pod bound to node1 runs (sandbox on the CNI bridge, image pulled through kprov's mirror
 *      config) and is reported Running with a pod IP in node1's pod CIDR and v1.13 conditions;
 *   2. a pod on node2 fetches it over HTTP (restartPolicy Never → Succeeded) and its log shows the
 *      answer, read through /containerLogs on the kubelet port (tailLines, timestamps);
 *   3. a steady pod's status is not written again; a restarted kubelet adopts its containers;
 *   4. a graceful delete stops and removes the pod's containers, then the pod;
 *   5. a static pod manifest runs and gets a mirror pod; removing the manifest removes both.
 * Everything goes through the real kubectl on node1 (admin.conf) and the kube-apiserver stand-in.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startClusterLab, type ClusterLab } from '../../../dev/cluster-lab.js';
import { WORKLOAD_IMAGE } from '../../../dev/release/images.js';
import { labSkipReason } from '../../support/lab.js';
import { HOST_KUBECTL } from '../../support/converged.js';

const NAME = 'e2e-kpods';
const HOSTS = ['node1', 'node2'];
const skip = labSkipReason();
const CTR = '/usr/local/bin/ctr --address /run/containerd/containerd.sock -n k8s.io';
// The host's kubectl as one shell word list, for `sh -c` scripts.
const KUBECTL = HOST_KUBECTL.join(' ');

interface ApiPod {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; annotations?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName: string };
  status: {
    phase?: string;
    podIP?: string;
    hostIP?: string;
    startTime?: string;
    conditions?: Array<{ type: string; status: string; lastTransitionTime: string }>;
    containerStatuses?: Array<{ name: string; ready: boolean; restartCount: number; containerID?: string; image: string; imageID: string; state: Record<string, Record<string, unknown>> }>;
  };
}

describe('the stand-in kubelet runs pods through CRI on lab hosts', { skip, concurrency: false, timeout: 900_000 }, () => {
  let lab: ClusterLab;
  const measured: string[] = [];

  before(async () => {
    lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
    const ip = (h: string) => lab.hosts.find((x) => x.name === h)!.address;
    await writeFile(
      path.join(lab.inventoryDir, 'inventory.ini'),
      `[all]\n${HOSTS.map((h) => `${h} ansible_host=${ip(h)} ip=${ip(h)} access_ip=${ip(h)}`).join('\n')}\n\n[kube_control_plane]\nnode1\n\n[etcd]\nnode1\n\n[kube_node]\nnode1\nnode2\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`,
    );
  });
  after(async () => {
    await lab?.stop();
    if (measured.length > 0) console.log(`measured: ${measured.join('; ')}`);
  });

  async function sh(host: string, script: string, input?: string): Promise<string> {
    const r = await lab.exec(host, ['sh', '-c', script], { timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
    assert.equal(r.code, 0, `${host}: ${script}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }
  const kubectl = (args: string, input?: string) => sh('node1', `${KUBECTL} ${args}`, input);
  const create = (pod: unknown) => kubectl('create --validate=false -f -', JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...(pod as object) }));
  const getPod = async (name: string): Promise<ApiPod | undefined> => {
    const r = await lab.exec('node1', ['sh', '-c', `${KUBECTL} get pod ${name} -o json`], { timeoutMs: 60_000 });
    if (r.code !== 0) {
      assert.match(r.stderr, /NotFound/, r.stderr);
      return undefined;
    }
    return JSON.parse(r.stdout) as ApiPod;
  };
  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const podContainers = async (host: string, uid: string) =>
    (await sh(host, `${CTR} containers ls -q 'labels."io.kubernetes.pod.uid"==${uid}'`)).split('\n').filter(Boolean);
  const containerdMemory = async (host: string) =>
    Number((await sh(host, `ps -eo rss,comm | awk '$2 ~ /^containerd/ { s += $1 } END { print s }'`)).trim()) / 1024;

  test('kprov applies the cluster; both nodes are Ready', async () => {
    const r = await lab.kprov(['apply', 'cluster', '-i', lab.inventoryDir], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    for (const h of HOSTS) measured.push(`${h} containerd without pods ${(await containerdMemory(h)).toFixed(0)} MiB RSS`);
    assert.equal((await kubectl('get nodes --no-headers')).split('\n').filter((l) => / Ready /.test(l)).length, 2);
  });

  let web: ApiPod;
  test('a pod bound to node1 runs: Running, pod IP in node1\'s pod CIDR, v1.13 status', async () => {
    const started = Date.now();
    await create({
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: { nodeName: 'node1', terminationGracePeriodSeconds: 3, containers: [{ name: 'web', image: WORKLOAD_IMAGE, ports: [{ containerPort: 8080 }] }] },
    });
    web = await waitFor('web Running', async () => {
      const p = await getPod('web');
      return p?.status.phase === 'Running' && p.status.podIP ? p : undefined;
    });
    measured.push(`pod start (create to Running reported, image pull included) ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.match(web.status.podIP!, /^10\.233\.64\.\d+$/);
    assert.equal(web.status.hostIP, lab.hosts.find((h) => h.name === 'node1')!.address);
    assert.deepEqual(web.status.conditions!.map((c) => `${c.type}=${c.status}`), ['Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True']);
    const cs = web.status.containerStatuses![0]!;
    assert.equal(cs.name, 'web');
    assert.equal(cs.ready, true);
    assert.equal(cs.restartCount, 0);
    assert.match(cs.containerID!, /^containerd:\/\/[0-9a-f]{64}$/);
    assert.equal(cs.image, WORKLOAD_IMAGE);
    assert.match(cs.imageID, /^docker\.io\/kprov\/workload@sha256:[0-9a-f]{64}$/);
    assert.ok(cs.state['running']?.['startedAt']);
    // The sandbox and the container, labelled with the pod's identity; the log under /var/log/pods/<uid>.
    assert.equal((await podContainers('node1', web.metadata.uid)).length, 2);
    await sh('node1', `test -f /var/log/pods/${web.metadata.uid}/web/0.log`);
    measured.push(`node1 containerd with one pod ${(await containerdMemory('node1')).toFixed(0)} MiB RSS (containerd + shim)`);
  });

  test('a pod on node2 fetches it over HTTP, succeeds (restartPolicy Never), and its log shows the answer', async () => {
    await create({
      metadata: { name: 'client' },
      spec: {
        nodeName: 'node2',
        restartPolicy: 'Never',
        containers: [{ name: 'wget', image: WORKLOAD_IMAGE, command: ['sh', '-c'], args: [`echo first; timeout 10 wget -q -O - http://${web.status.podIP}:8080/ && echo fetched`] }],
      },
    });
    const done = await waitFor('client finished', async () => {
      const p = await getPod('client');
      return p?.status.phase === 'Succeeded' || p?.status.phase === 'Failed' ? p : undefined;
    });
    assert.equal(done.status.phase, 'Succeeded', JSON.stringify(done.status));
    assert.match(done.status.podIP!, /^10\.233\.65\.\d+$/);
    const term = done.status.containerStatuses![0]!.state['terminated']!;
    assert.equal(term['exitCode'], 0);
    assert.equal(term['reason'], 'Completed');
    assert.deepEqual(done.status.conditions!.find((c) => c.type === 'Ready'), { ...done.status.conditions!.find((c) => c.type === 'Ready')!, status: 'False' });
    // (lab.exec trims what a command prints: the trailing newlines are checked in the unit tests.)
    assert.equal(await kubectl('logs client'), 'first\nweb\nfetched');
    assert.equal(await kubectl('logs client --tail=1'), 'fetched');
    assert.match(await kubectl('logs client --tail=1 --timestamps'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z fetched$/);
    assert.equal(await kubectl('logs client --limit-bytes=3'), 'fir');
    // httpd on node1 logged the request on stderr (from node2's address: the bridge plugin masquerades).
    assert.match(await kubectl('logs web -c web'), /\]:\d+: response:200/);
    assert.match(await kubectl('get pods -o wide'), /client\s+0\/1\s+Completed\s+0\s+\S+\s+10\.233\.65\.\d+\s+node2/);
  });

  test('a steady pod\'s status is not written again; a restarted kubelet adopts its containers', async () => {
    // Every status write moves the pod's resourceVersion.
    const rv = (await getPod('web'))!.metadata.resourceVersion;
    const cpuTicks = async () => Number((await sh('node1', 'set -- $(cut -d" " -f14,15 /proc/$(systemctl show -p MainPID --value kubelet)/stat); echo $(($1 + $2))')).trim());
    const t0 = await cpuTicks();
    await new Promise((r) => setTimeout(r, 10_000));
    const ticks = (await cpuTicks()) - t0;
    measured.push(`node1 kubelet CPU with one steady pod ${ticks} ticks (1/100 s) in 10 s`);
    assert.ok(ticks < 50, `the kubelet idles (${ticks} ticks in 10 s)`);
    assert.equal((await getPod('web'))!.metadata.resourceVersion, rv, 'no status write while nothing changes');
    const before = await podContainers('node1', web.metadata.uid);
    await sh('node1', 'systemctl restart kubelet');
    await new Promise((r) => setTimeout(r, 8_000));
    assert.deepEqual(await podContainers('node1', web.metadata.uid), before, 'the same sandbox and container, none added');
    const after = (await getPod('web'))!;
    assert.equal(after.status.containerStatuses![0]!.containerID, web.status.containerStatuses![0]!.containerID);
    assert.equal(after.status.startTime, web.status.startTime);
  });

  test('a graceful delete stops and removes the pod\'s containers, then the kubelet removes the pod', async () => {
    const started = Date.now();
    await kubectl('delete pod web --wait=false');
    await waitFor('web gone from the API', async () => ((await getPod('web')) ? undefined : true), 60_000);
    measured.push(`graceful delete (grace 3 s) to pod gone ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(await podContainers('node1', web.metadata.uid), []);
    await sh('node1', `test ! -e /var/log/pods/${web.metadata.uid}`);
  });

  test('a static pod manifest runs with a mirror pod; removing the manifest removes both', async () => {
    const manifest = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: static-web\n  labels:\n    tier: test\nspec:\n  hostNetwork: true\n  containers:\n  - name: web\n    image: ${WORKLOAD_IMAGE}\n    env:\n    - name: PORT\n      value: "18081"\n`;
    await sh('node2', 'cat > /etc/kubernetes/manifests/static-web.yaml', manifest);
    const mirror = await waitFor('the mirror pod Running', async () => {
      const p = await getPod('static-web-node2');
      return p?.status.phase === 'Running' ? p : undefined;
    }, 60_000);
    const a = mirror.metadata.annotations!;
    assert.equal(a['kubernetes.io/config.source'], 'file');
    assert.equal(a['kubernetes.io/config.mirror'], a['kubernetes.io/config.hash']);
    assert.match(a['kubernetes.io/config.seen']!, /^\d{4}-\d\d-\d\dT/);
    assert.equal(mirror.status.podIP, lab.hosts.find((h) => h.name === 'node2')!.address, 'hostNetwork: the node address');
    assert.equal((await sh('node1', `curl -fsS http://${mirror.status.podIP}:18081/`)).trim(), 'node2');
    assert.match(await kubectl('get pods'), /static-web-node2\s+1\/1\s+Running/);
    const uid = a['kubernetes.io/config.hash']!;
    await sh('node2', 'rm /etc/kubernetes/manifests/static-web.yaml');
    await waitFor('the mirror pod gone', async () => ((await getPod('static-web-node2')) ? undefined : true), 60_000);
    await waitFor('its containers gone', async () => ((await podContainers('node2', uid)).length === 0 ? true : undefined), 60_000);
  });
});
