/**
 * `kprov apply upgrade-cluster` on a 3-host lab (node1 control plane + etcd + node, node2 and
 * node3 etcd + worker), built at v1.13.5; the lab's mirror serves the v1.13.6 stand-ins next to it:
 *   1. `apply cluster` with kube_version v1.13.6 refuses (exit 2), names upgrade-cluster, changes nothing;
 *   2. `plan upgrade-cluster` lists the snapshot, the gates and the drains and changes nothing;
 *      `apply upgrade-cluster`: a snapshot in <inventory>/backups/; etcd members, the control
 *      plane, then the workers one at a time (cordoned, drained, uncordoned); the real kubectl
 *      sees the API server on v1.13.6 and every kubelet on v1.13.6 and Ready; the real etcdctl
 *      sees 3 healthy members; no <file>.previous and no cordoned node left;
 *   3. a second upgrade-cluster and an `apply cluster` change nothing;
 *   4. kube_version v1.13.7 from a release whose kube-apiserver exits at once (the other
 *      components unchanged): node1's control-plane health gate fails, its previous kube-apiserver
 *      is put back and healthy, the upgrade stops before the workers (exit 1): the API server
 *      answers v1.13.6 again, every node Ready on v1.13.6, nothing kept behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { kubeVersionPins, pinVariables, RELEASE_DIR, startClusterLab, UPGRADE_KUBE_VERSION } from '../../dev/cluster-lab.js';
import type { RunEvent } from '../../src/engine/events.js';
import { labSkipReason } from '../support/lab.js';
import { eventsOf, hostFailures, parseRunEvents } from '../support/run-events.js';
import { assertNodesReadyAndEtcdHealthy, HOST_KUBECTL } from '../support/converged.js';

const NAME = 'upg-e2e';
const HOSTS = ['node1', 'node2', 'node3'];
const of = eventsOf;

const failures = hostFailures;

const parse = parseRunEvents;
const changedTasks = (events: RunEvent[]) => of(events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host} ${e.role}: ${e.task}`);

test('upgrade-cluster: v1.13.5 → v1.13.6 host by host with a snapshot first; apply cluster refuses a version change; a second run is a no-op', { skip: labSkipReason(), timeout: 1_200_000 }, async () => {
  const lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
  // Step 4's broken release, next to the lab's release tree for the mirror to serve; removed after.
  const brokenDir = path.join(RELEASE_DIR, 'dl.k8s.io', 'release', 'v1.13.7');
  try {
    const ips = Object.fromEntries(lab.hosts.map((h) => [h.name, h.address]));
    const line = (h: string) => `${h} ansible_host=${ips[h]} ip=${ips[h]} access_ip=${ips[h]}`;
    await writeFile(
      path.join(lab.inventoryDir, 'inventory.ini'),
      `[all]\n${HOSTS.map(line).join('\n')}\n\n[kube_control_plane]\nnode1\n\n[etcd]\nnode1\nnode2\nnode3\n\n[kube_node]\n${HOSTS.join('\n')}\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`,
    );
    // No cluster DNS: this test is about versions, and CoreDNS would only add time.
    await pinVariables(lab.inventoryDir, { dns_mode: 'none', drain_grace_period: '2' });
    const kprov = async (args: string[]) => {
      const started = Date.now();
      const r = await lab.kprov([...args, '-i', lab.inventoryDir, '--json'], { timeoutMs: 900_000 });
      return { ...r, events: parse(r.stdout), ms: Date.now() - started };
    };
    const kubectl = (args: string[]) => lab.exec('node1', [...HOST_KUBECTL, ...args], { timeoutMs: 60_000 });
    const nodeVersions = async () => {
      const r = await kubectl(['get', 'nodes', '--no-headers']);
      assert.equal(r.code, 0, r.stderr);
      // NAME STATUS ROLES AGE VERSION
      return r.stdout.trim().split('\n').map((l) => l.split(/\s+/)).map((f) => `${f[0]} ${f[1]} ${f[4]}`).sort();
    };

    const fresh = await kprov(['apply', 'cluster']);
    assert.equal(fresh.code, 0, failures(fresh));
    assert.deepEqual(await nodeVersions(), HOSTS.map((h) => `${h} Ready v1.13.5`));

    // 1. Another kube_version: apply cluster refuses before anything changes.
    await pinVariables(lab.inventoryDir, kubeVersionPins(lab.release, UPGRADE_KUBE_VERSION));
    const refused = await kprov(['apply', 'cluster']);
    assert.equal(refused.code, 2, `${refused.stdout.slice(-2000)}\n${refused.stderr}`);
    assert.match(refused.stderr, /runs Kubernetes v1\.13\.5 and kube_version is v1\.13\.6/);
    assert.match(refused.stderr, /kprov apply upgrade-cluster/);
    assert.deepEqual(changedTasks(refused.events), [], 'nothing changed');
    // Tags that select the node role alone do not get past it either.
    const tagged = await kprov(['apply', 'cluster', '--tags', 'kubelet']);
    assert.equal(tagged.code, 2, `${tagged.stdout.slice(-2000)}\n${tagged.stderr}`);
    assert.deepEqual(changedTasks(tagged.events), [], 'nothing changed');
    assert.deepEqual(await nodeVersions(), HOSTS.map((h) => `${h} Ready v1.13.5`));

    // 2. The plan, then the upgrade.
    const plan = await kprov(['plan', 'upgrade-cluster']);
    assert.equal(plan.code, 0, failures(plan));
    const planned = changedTasks(plan.events);
    for (const t of ['node1 upgrade-snapshot: etcd snapshot saved before the upgrade', 'node1 upgrade-control-plane: control-plane health gate (v1.13.6), rolled back on failure', 'node3 upgrade-node: node3 cordoned and drained before its upgrade']) {
      assert.ok(planned.includes(t), `${t}\n${planned.join('\n')}`);
    }
    assert.deepEqual(await nodeVersions(), HOSTS.map((h) => `${h} Ready v1.13.5`), 'a plan changes nothing');
    const up = await kprov(['apply', 'upgrade-cluster']);
    assert.equal(up.code, 0, failures(up));
    console.log(`measured: upgrade-cluster of 3 hosts (3 etcd, 1 control plane, 2 workers) ${(up.ms / 1000).toFixed(1)} s`);
    const changed = changedTasks(up.events);
    assert.ok(changed.includes('node1 upgrade-snapshot: etcd snapshot saved before the upgrade'), changed.join('\n'));
    const backups = (await readdir(path.join(lab.inventoryDir, 'backups'))).filter((f) => /^etcd-.*\.db$/.test(f));
    assert.equal(backups.length, 1, backups.join(', '));
    for (const h of HOSTS) {
      assert.ok(changed.includes(`${h} upgrade-node: node health gate (v1.13.6), rolled back on failure`), `${h}\n${changed.join('\n')}`);
      assert.ok(changed.includes(`${h} upgrade-node: ${h} cordoned and drained before its upgrade`), `${h}\n${changed.join('\n')}`);
      assert.ok(changed.includes(`${h} upgrade-node: ${h} uncordoned after its upgrade`), `${h}\n${changed.join('\n')}`);
    }
    assert.ok(changed.includes('node1 upgrade-control-plane: control-plane health gate (v1.13.6), rolled back on failure'), changed.join('\n'));
    // Workers one at a time: node2's play work is over before node3's starts.
    const hostStarts = of(up.events, 'host:start').filter((e) => e.play === 'Upgrade the workers');
    const hostEnds = of(up.events, 'host:finish').filter((e) => e.play === 'Upgrade the workers');
    assert.deepEqual(hostStarts.map((e) => e.host), ['node2', 'node3']);
    assert.ok(Date.parse(hostEnds.find((e) => e.host === 'node2')!.time) <= Date.parse(hostStarts.find((e) => e.host === 'node3')!.time));
    assert.equal(of(up.events, 'play:start').find((e) => e.play === 'Upgrade the workers')?.serial, 1);

    const version = await kubectl(['version', '-o', 'json']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal((JSON.parse(version.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion, 'v1.13.6');
    assert.deepEqual(await nodeVersions(), HOSTS.map((h) => `${h} Ready v1.13.6`));
    assert.equal((await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[*].spec.unschedulable}'])).stdout.trim(), '', 'no node left cordoned');
    await assertNodesReadyAndEtcdHealthy(lab, { nodes: HOSTS, kubectlHost: 'node1', etcdHost: 'node1', etcdMembers: 3 });
    for (const h of HOSTS) {
      const left = await lab.exec(h, ['sh', '-c', 'ls /usr/local/bin/*.previous /etc/systemd/system/*.previous /var/lib/kprov/upgrade/* 2>/dev/null; cat /var/lib/kprov/kube-version']);
      assert.equal(left.stdout.trim(), 'v1.13.6', `${h}: nothing kept, marker v1.13.6`);
    }

    // 3. Nothing left to do: upgrade-cluster and apply cluster change nothing.
    const again = await kprov(['apply', 'upgrade-cluster']);
    assert.equal(again.code, 0, failures(again));
    assert.deepEqual(changedTasks(again.events), []);
    console.log(`measured: upgrade-cluster with nothing to upgrade ${(again.ms / 1000).toFixed(1)} s`);
    const cluster = await kprov(['apply', 'cluster']);
    assert.equal(cluster.code, 0, failures(cluster));
    assert.deepEqual(changedTasks(cluster.events), []);

    // 4. A release whose kube-apiserver cannot start: rolled back on node1, the upgrade stops there.
    const broken = 'v1.13.7';
    const dir = (v: string) => path.join(RELEASE_DIR, 'dl.k8s.io', 'release', v, 'bin', 'linux', 'amd64');
    assert.equal(path.dirname(path.dirname(path.dirname(dir(broken)))), brokenDir);
    await mkdir(dir(broken), { recursive: true });
    const pins: Record<string, string> = { kube_version: broken };
    for (const name of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy']) {
      const file = path.join(dir(broken), name);
      if (name === 'kube-apiserver') await writeFile(file, '#!/bin/sh\necho "kube-apiserver: this build cannot start" >&2\nexit 1\n');
      else await copyFile(path.join(dir(UPGRADE_KUBE_VERSION), name), file);
      await chmod(file, 0o755);
      const body = await readFile(file);
      for (const algo of ['sha512', 'sha1', 'md5']) await writeFile(`${file}.${algo}`, createHash(algo).update(body).digest('hex'));
      pins[`${name.replace(/-/g, '_')}_checksum`] = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    }
    await pinVariables(lab.inventoryDir, pins);
    const failed = await kprov(['apply', 'upgrade-cluster']);
    assert.equal(failed.code, 1, failures(failed));
    console.log(`measured: upgrade-cluster with a failing health gate, rolled back ${(failed.ms / 1000).toFixed(1)} s`);
    const gate = of(failed.events, 'host:finish').find((e) => e.host === 'node1' && e.status === 'failed');
    assert.match(gate?.error?.message ?? '', /^control-plane failed its health gate after the upgrade to v1\.13\.7: .*kube-apiserver.*; rolled back to the previous binaries and config, which run and are healthy$/, failures(failed));
    assert.ok(of(failed.events, 'play:skip').some((e) => e.play === 'Upgrade the workers'), 'the workers were not touched');
    const back = await kubectl(['version', '-o', 'json']);
    assert.equal((JSON.parse(back.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion, 'v1.13.6');
    assert.deepEqual(await nodeVersions(), HOSTS.map((h) => `${h} Ready v1.13.6`));
    const kept = await lab.exec('node1', ['sh', '-c', 'ls /usr/local/bin/*.previous /etc/systemd/system/*.previous /var/lib/kprov/upgrade/* 2>/dev/null; cat /var/lib/kprov/kube-version']);
    assert.equal(kept.stdout.trim(), 'v1.13.6', 'node1: the previous files are back in place, none kept');
    await assertNodesReadyAndEtcdHealthy(lab, { nodes: HOSTS, kubectlHost: 'node1', etcdHost: 'node1', etcdMembers: 3 });
  } finally {
    await lab.stop();
    await rm(brokenDir, { recursive: true, force: true });
  }
});
