/**
 * `download_localhost: false` on a 2-host lab (node1 control plane + etcd, node2 worker): each
 * host downloads its artifacts from the lab mirror (files_repo) with curl, verifies and installs
 * them itself; the control host downloads nothing. The installed files are exactly the release's
 * (single binaries and archive members alike), a re-apply changes nothing, and a binary that no
 * longer matches what was installed is fetched again on that host alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RunEvent } from '../../src/engine/events.js';
import { RELEASE_DIR, startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import { labSkipReason } from '../support/lab.js';
import { eventsOf } from '../support/run-events.js';

const run = promisify(execFile);

const PLAYBOOK = `- name: keys
  hosts: all
  roles: [ssh-keys]
- name: Container runtime
  hosts: k8s_cluster
  roles: [runtime]
- name: Pod network (CNI)
  hosts: k8s_cluster
  roles: [cni]
- name: etcd
  hosts: etcd
  roles: [etcd]
- name: Control plane
  hosts: kube_control_plane
  roles: [control-plane]
`;

interface Applied {
  code: number;
  events: RunEvent[];
  output: string;
}

const of = eventsOf;

test('download_localhost: false: hosts fetch, verify and install their own artifacts; the control host downloads nothing', { skip: labSkipReason(), timeout: 600_000 }, async () => {
  const lab = await startClusterLab({ name: 'e2e-fetch', hosts: 2 });
  const scratch = await mkdtemp(path.join(tmpdir(), 'kprov-e2e-fetch-'));
  const cache = path.join(scratch, 'cache');
  try {
    const ips = Object.fromEntries(lab.hosts.map((h) => [h.name, h.address]));
    const line = (h: string) => `${h} ansible_host=${ips[h]} ip=${ips[h]} access_ip=${ips[h]}`;
    await writeFile(
      path.join(lab.inventoryDir, 'inventory.ini'),
      `[all]\n${line('node1')}\n${line('node2')}\n\n[kube_control_plane]\nnode1\n\n[etcd]\nnode1\n\n[kube_node]\nnode1\nnode2\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`,
    );
    await writeFile(path.join(lab.inventoryDir, 'group_vars', 'all', 'downloads.yml'), 'download_localhost: false\n');
    const playbook = path.join(scratch, 'fetch.yml');
    await writeFile(playbook, PLAYBOOK);
    const apply = async (): Promise<Applied> => {
      const r = await lab.kprov(['apply', playbook, '-i', lab.inventoryDir, '--json'], { timeoutMs: 300_000, env: { ...process.env, XDG_CACHE_HOME: cache } });
      const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as RunEvent);
      const failures = of(events, 'host:finish').filter((e) => e.error).map((e) => `${e.host}: ${e.step}: ${e.error!.message}\n${(e.error!.output ?? []).join('\n')}`);
      return { code: r.code, events, output: `${failures.join('\n')}\n${r.stderr}` };
    };
    const sha256On = async (host: string, files: string[]): Promise<Record<string, string>> => {
      const r = await lab.exec(host, ['sha256sum', ...files]);
      assert.equal(r.code, 0, r.stderr);
      return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(66), l.slice(0, 64)]));
    };

    const first = await apply();
    assert.equal(first.code, 0, first.output);
    const fetched = of(first.events, 'task:finish').filter((e) => e.status === 'changed' && e.changes.some((c) => /^download, verify and install /.test(c.summary)));
    assert.deepEqual(
      [...new Set(fetched.map((e) => `${e.host} ${e.task}`))].sort(),
      [
        'node1 CNI plugins', 'node1 containerd binaries', 'node1 etcd binary', 'node1 kube-apiserver binary', 'node1 kube-controller-manager binary',
        'node1 kube-scheduler binary', 'node1 kubectl binary', 'node1 runc binary', 'node2 CNI plugins', 'node2 containerd binaries', 'node2 runc binary',
      ],
      'every artifact is fetched by the host that needs it (etcdctl came with etcd\'s archive)',
    );
    await assert.rejects(readdir(path.join(cache, 'kprov', 'sha256')), /ENOENT/, 'nothing was downloaded on the control host');

    // What the hosts installed is the release itself: single binaries, and members of the archives.
    const artifact = (name: string) => lab.release.artifacts.find((a) => a.name === name)!;
    const unpacked = path.join(scratch, 'unpacked');
    const member = async (name: string, inside: string): Promise<string> => {
      const dir = path.join(unpacked, name);
      await run('mkdir', ['-p', dir]);
      await run('tar', ['-xzf', path.join(RELEASE_DIR, artifact(name).urlPath), '-C', dir]);
      return createHash('sha256').update(await readFile(path.join(dir, inside))).digest('hex');
    };
    const etcdVersion = artifact('etcd').version;
    const expected: Record<string, string> = {
      '/usr/local/bin/kube-apiserver': artifact('kube-apiserver').sha256,
      '/usr/local/bin/kubectl': artifact('kubectl').sha256,
      '/usr/local/bin/runc': artifact('runc').sha256,
      '/usr/local/bin/etcd': await member('etcd', `etcd-${etcdVersion}-linux-amd64/etcd`),
      '/usr/local/bin/etcdctl': await member('etcd', `etcd-${etcdVersion}-linux-amd64/etcdctl`),
      '/usr/local/bin/ctr': await member('containerd', 'bin/ctr'),
      '/opt/cni/bin/bridge': await member('cni', 'bridge'),
    };
    assert.deepEqual(await sha256On('node1', Object.keys(expected)), expected);
    assert.match((await lab.exec('node1', ['cat', '/var/lib/kprov/artifacts/etcd.manifest'])).stdout, /^kprov installed artifact v1\nidentity [0-9a-f]{64}\n/);
    for (const unit of ['containerd', 'etcd', 'kube-apiserver']) {
      assert.equal((await lab.exec('node1', ['systemctl', 'is-active', unit])).stdout.trim(), 'active', unit);
    }

    // A re-apply reads the hosts' records and downloads nothing.
    const again = await apply();
    assert.equal(again.code, 0, again.output);
    assert.deepEqual(of(again.events, 'task:finish').filter((e) => e.status !== 'ok').map((e) => `${e.host} ${e.task} ${e.status}`), []);

    // A binary that is not what was installed is fetched again, on that host only.
    await lab.exec('node2', ['sh', '-c', 'echo tampered > /usr/local/bin/runc']);
    const repaired = await apply();
    assert.equal(repaired.code, 0, repaired.output);
    const changed = of(repaired.events, 'task:finish').filter((e) => e.status === 'changed');
    assert.deepEqual(changed.map((e) => `${e.host} ${e.task}`), ['node2 runc binary']);
    assert.match(changed[0]!.changes[0]!.summary, /\(\/usr\/local\/bin\/runc is not the file that was installed\)$/);
    assert.deepEqual(await sha256On('node2', ['/usr/local/bin/runc']), { '/usr/local/bin/runc': artifact('runc').sha256 });
    await assert.rejects(readdir(path.join(cache, 'kprov', 'sha256')), /ENOENT/);
  } finally {
    await lab.stop();
    await rm(scratch, { recursive: true, force: true });
  }
});
