/**
 * Containers in lab hosts, through the product's own containerd settings and the lab registry,
 * on a 2-host lab serving the stand-in release:
 *   1. the lab images are built and pushed to the lab registry (from inside the lab namespace);
 *   2. `kprov apply cluster --tags ssh-keys,runtime,cni` installs containerd and runc from the
 *      mirror, with the lab inventory's registry mirrors and OOM restriction in its config;
 *   3. `ctr images pull --plain-http` from the lab registry works, and containerd's CRI resolves
 *      k8s.gcr.io/pause:3.1 (the sandbox image) through the mirror config, asked over CRI itself;
 *   4. `ctr run` of the workload prints, pings, serves HTTP to the other host; the pause image
 *      exits 0 on SIGTERM; containers' cgroups sit below their host's, in every hierarchy;
 *   5. `lab down` leaves no process, namespace, mount, cgroup, containerd directory or registry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import { ensureLabImages, pushLabImages } from '../../dev/lab-images.js';
import { PAUSE_IMAGE, WORKLOAD_IMAGE, WORKLOAD_PORT, type LabImages } from '../../dev/release/images.js';
import type { PushedImage } from '../../dev/release/push.js';
import { mountsUnder } from '../../src/lab/mounts.js';
import { labDir } from '../../src/lab/paths.js';
import { readLabState, type LabState } from '../../src/lab/state.js';
import { CRI_PULL_SCRIPT } from '../support/cri-pull.js';
import { assertResourcesGone, labResources, labSkipReason } from '../support/lab.js';

const NAME = 'e2e-pods';
const skip = labSkipReason();
const CTR = ['/usr/local/bin/ctr', '--address', '/run/containerd/containerd.sock', '-n', 'k8s.io'];

describe('containers in lab hosts: runc, containerd, the lab registry and its images', { skip, concurrency: false, timeout: 600_000 }, () => {
  let lab: ClusterLab;
  let images: LabImages;
  let pushed: PushedImage[];
  const measured: string[] = [];
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

  before(async () => {
    let t = Date.now();
    images = await ensureLabImages();
    measured.push(`images built (or found) in ${seconds(Date.now() - t)}`);
    t = Date.now();
    // This test pushes the images itself: what a first push sends is part of what it checks.
    lab = await startClusterLab({ name: NAME, hosts: 2, pushImages: false });
    measured.push(`lab up (2 hosts, mirror and registry) in ${seconds(lab.up.timings.totalMs)}, ${seconds(Date.now() - t)} with the release`);
    t = Date.now();
    pushed = await pushLabImages(lab, images);
    measured.push(`images pushed in ${seconds(Date.now() - t)}`);
  });

  after(async () => {
    await lab?.stop();
    if (measured.length > 0) console.log(`measured: ${measured.join('; ')}`);
  });

  async function sh(host: string, script: string, timeoutMs = 60_000): Promise<string> {
    const r = await lab.exec(host, ['sh', '-c', script], { timeoutMs });
    assert.equal(r.code, 0, `${host}: ${script}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  const manifestOf = (name: string) => images.images.find((i) => i.name === name)!;

  test('the images are in the lab registry under their paths, the shared layer sent once and mounted into the others', async () => {
    assert.deepEqual(pushed.map((p) => p.target).sort(), ['coredns/coredns:1.2.6', 'kprov/haproxy:debian12', 'kprov/nginx:debian12', 'kprov/workload:1', 'pause:3.1']);
    const hows = pushed.flatMap((p) => p.blobs.map((b) => b.how));
    // The busybox layer: pushed with pause, then mounted into workload, nginx and haproxy.
    assert.equal(hows.filter((h) => h === 'mounted').length, 3, JSON.stringify(pushed));
    const catalog = JSON.parse(await sh('node2', `curl -fsS ${lab.registryUrl}/v2/_catalog`)) as { repositories: string[] };
    assert.deepEqual(catalog.repositories, ['coredns/coredns', 'kprov/haproxy', 'kprov/nginx', 'kprov/workload', 'pause']);
    const again = await pushLabImages(lab, images);
    assert.ok(again.every((p) => p.blobs.every((b) => b.how === 'present')), 'a second push sends no blob');
  });

  test('apply --tags ssh-keys,runtime,cni: containerd runs with the lab registry as mirror and the OOM restriction', async () => {
    const t = Date.now();
    const r = await lab.kprov(['apply', 'cluster', '-i', lab.inventoryDir, '--tags', 'ssh-keys,runtime,cni'], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    measured.push(`apply --tags ssh-keys,runtime,cni in ${seconds(Date.now() - t)}`);
    for (const host of ['node1', 'node2']) {
      const config = await sh(host, 'cat /etc/containerd/config.toml');
      assert.match(config, /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\.mirrors\."k8s\.gcr\.io"\]\n\s+endpoint = \["http:\/\/10\.213\.0\.1:5000"\]/);
      assert.match(config, /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\.mirrors\."docker\.io"\]\n\s+endpoint = \["http:\/\/10\.213\.0\.1:5000"\]/);
      assert.match(config, /^\s+sandbox_image = "k8s\.gcr\.io\/pause:3\.1"$/m);
      assert.match(config, /^\s+restrict_oom_score_adj = true$/m);
      assert.equal((await sh(host, 'systemctl is-active containerd kprov-lab-cgroup-rw')).trim(), 'active\nactive');
      assert.match(await sh(host, 'findmnt -n -o OPTIONS /sys/fs/cgroup/memory'), /^rw,/, 'controllers are writable in the host');
    }
  });

  test('ctr pulls from the lab registry over plain http', async () => {
    const out = await sh('node1', `${CTR.join(' ')} images pull --plain-http 10.213.0.1:5000/kprov/workload:1`);
    assert.match(out, /done/);
    const listed = await sh('node1', `${CTR.join(' ')} images ls`);
    const line = listed.split('\n').find((l) => l.startsWith('10.213.0.1:5000/kprov/workload:1 '));
    assert.ok(line?.includes(manifestOf(WORKLOAD_IMAGE).manifest.digest), listed);
  });

  test("containerd's CRI resolves k8s.gcr.io/pause:3.1 through the mirror config, asked over CRI as kubelet does", async () => {
    const before = await readFile(path.join(labDir(NAME), 'registry.log'), 'utf8');
    const r = await lab.exec('node2', ['node', '-e', CRI_PULL_SCRIPT, '/run/containerd/containerd.sock', PAUSE_IMAGE], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    // PullImage answers the image's ID: its config digest.
    assert.equal(r.stdout.trim(), manifestOf(PAUSE_IMAGE).config.digest);
    const refs = (await sh('node2', `${CTR.join(' ')} images ls -q`)).split('\n');
    assert.ok(refs.includes(PAUSE_IMAGE), refs.join('\n'));
    assert.ok(refs.includes(`k8s.gcr.io/pause@${manifestOf(PAUSE_IMAGE).manifest.digest}`), refs.join('\n'));
    // containerd asked the lab registry for pause:3.1, from node2.
    const log = (await readFile(path.join(labDir(NAME), 'registry.log'), 'utf8')).slice(before.length);
    assert.match(log, /^10\.213\.0\.12 - - \[[^\]]+\] "(?:HEAD|GET) \/v2\/pause\/manifests\/3\.1(\?ns=k8s\.gcr\.io)? HTTP\/1\.1" 200 .*containerd/m);
  });

  test('ctr run: the workload prints, pings, has wget and nslookup; it serves HTTP to the other host; containers sit in their host cgroups', async () => {
    const out = await sh(
      'node1',
      `${CTR.join(' ')} run --rm 10.213.0.1:5000/kprov/workload:1 e2e-hello sh -c 'echo hello from a container; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo ping ok; which wget nslookup'`,
    );
    assert.deepEqual(out.trim().split('\n'), ['hello from a container', 'ping ok', '/usr/bin/wget', '/usr/bin/nslookup']);

    await sh('node1', `${CTR.join(' ')} run -d --net-host 10.213.0.1:5000/kprov/workload:1 e2e-web`);
    const state = (await readLabState(NAME))!;
    const node1 = state.hosts.find((h) => h.name === 'node1')!;
    try {
      const answer = await sh('node2', `for i in $(seq 1 50); do curl -fsS http://10.213.0.11:${WORKLOAD_PORT}/ && exit 0; sleep 0.1; done; exit 1`);
      assert.equal(answer.trim(), 'node1', 'the workload answers with its host name (it shares node1 network and name)');
      // runc made the container's cgroups below node1's own, in every hierarchy of the machine
      // (in systemd's, below payload/: nspawn's supervisor keeps the host's own cgroup).
      for (const dir of node1.cgroups) {
        const root = (await stat(path.join(dir, 'payload')).catch(() => undefined)) ? path.join(dir, 'payload') : dir;
        const entries = await readdir(path.join(root, 'k8s.io'));
        assert.ok(entries.includes('e2e-web'), `${root}/k8s.io: ${entries.join(' ')}`);
      }
    } finally {
      await sh('node1', `${CTR.join(' ')} task kill -s SIGKILL e2e-web; for i in $(seq 1 50); do ${CTR.join(' ')} task rm e2e-web >/dev/null 2>&1 && break; sleep 0.1; done; ${CTR.join(' ')} containers rm e2e-web`);
    }
  });

  test('the pause image sleeps until SIGTERM, then exits 0', async () => {
    const out = await sh(
      'node2',
      `${CTR.join(' ')} run --rm ${PAUSE_IMAGE} e2e-pause & pid=$!
       for i in $(seq 1 50); do ${CTR.join(' ')} task ls | grep -q '^e2e-pause .*RUNNING' && break; sleep 0.1; done
       sleep 0.5; ${CTR.join(' ')} task ls | grep -c '^e2e-pause .*RUNNING'
       ${CTR.join(' ')} task kill -s SIGTERM e2e-pause
       wait $pid; echo exit=$?`,
    );
    assert.deepEqual(out.trim().split('\n'), ['1', 'exit=0']);
  });

  test('lab down leaves no process, namespace, mount, cgroup, containerd directory or registry behind', async () => {
    const state: LabState = (await readLabState(NAME))!;
    const resources = await labResources(NAME);
    assert.equal(resources.pids.length, 2 + 2 * 2, 'mirror, registry, and nspawn and init per host');
    const containerdDirs = state.hosts.map((h) => h.containerdDir!);
    for (const d of containerdDirs) assert.ok((await readdir(path.join(d, 'io.containerd.content.v1.content'))).length > 0, `${d} holds images`);
    const t = Date.now();
    await lab.stop();
    measured.push(`lab down in ${seconds(Date.now() - t)}`);
    await assertResourcesGone(resources);
    assert.deepEqual(await mountsUnder(labDir(NAME)), []);
    for (const d of [...containerdDirs, labDir(NAME), state.registry!.storage]) await assert.rejects(stat(d), `${d} is removed`);
    const namespaces = await readdir('/run/netns').catch(() => [] as string[]);
    assert.deepEqual(namespaces.filter((n) => n === `kprov-${NAME}` || n.startsWith(`kprov-${NAME}.`)), []);
  });
});
