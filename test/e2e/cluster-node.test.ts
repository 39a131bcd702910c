/**
 * Preflight, container runtime, pod network and the node components on a 3-host lab (node1
 * control plane + etcd, node2 and node3 workers) serving the stand-in v1.13 release. In order,
 * on one lab:
 *   1. preflight fails on node3 (a stray listener on the kubelet's port, too little memory for
 *      an overridden minimum), reporting both in one error, and nothing changes on any host;
 *   2. fixed, `kprov apply cluster` gives: `ctr version` answering on every node, each node's
 *      pod CIDR in its CNI config, routes to the other nodes' pod CIDRs, and the real kubectl
 *      listing 3 Ready nodes;
 *   3. the CNI chain kprov configured, run with the plugins it installed, gives a pod namespace
 *      an address in the node's pod CIDR;
 *   4. a re-apply changes nothing and restarts nothing;
 *   5. kube_proxy_mode=ipvs rewrites kube-proxy's config and restarts kube-proxy only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunEvent } from '../../src/engine/events.js';
import { ROUTE_PROTO } from '../../src/roles/cni/pod-routes.js';
import { startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import { labSkipReason } from '../support/lab.js';
import { eventsOf } from '../support/run-events.js';

const NAME = 'e2e-node';
const HOSTS = ['node1', 'node2', 'node3'];
const skip = labSkipReason();

interface Applied {
  code: number;
  events: RunEvent[];
  stdout: string;
  stderr: string;
}

const of = eventsOf;

describe('preflight, runtime, CNI and node components on a 3-host lab', { skip, concurrency: false, timeout: 300_000 }, () => {
  let lab: ClusterLab;
  let ips: Record<string, string>;

  before(async () => {
    lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
    ips = Object.fromEntries(lab.hosts.map((h) => [h.name, h.address]));
    const line = (h: string) => `${h} ansible_host=${ips[h]} ip=${ips[h]} access_ip=${ips[h]}`;
    await writeFile(
      path.join(lab.inventoryDir, 'inventory.ini'),
      `[all]\n${HOSTS.map(line).join('\n')}\n\n[kube_control_plane]\nnode1\n\n[etcd]\nnode1\n\n[kube_node]\nnode2\nnode3\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`,
    );
  });
  after(async () => {
    await lab?.stop();
  });

  async function apply(extra: string[] = []): Promise<Applied> {
    const r = await lab.kprov(['apply', 'cluster', '-i', lab.inventoryDir, '--json', ...extra], { timeoutMs: 240_000 });
    const events = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as RunEvent);
    return { code: r.code, events, stdout: r.stdout, stderr: r.stderr };
  }

  function failures(run: Applied): string {
    return of(run.events, 'host:finish')
      .filter((e) => e.error)
      .map((e) => `${e.host}: ${e.step}: ${e.error!.message}\n  ${(e.error!.output ?? []).join('\n  ')}`)
      .join('\n') + run.stderr;
  }

  async function sh(host: string, script: string): Promise<string> {
    const r = await lab.exec(host, ['sh', '-c', script], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `${host}: ${script}: ${r.stderr}`);
    return r.stdout;
  }

  async function invocations(): Promise<Record<string, Record<string, string>>> {
    const out: Record<string, Record<string, string>> = {};
    for (const h of HOSTS) {
      out[h] = {};
      for (const unit of ['containerd', 'kubelet', 'kube-proxy']) {
        out[h][unit] = (await sh(h, `systemctl show -p InvocationID --value ${unit}`)).trim();
      }
    }
    return out;
  }

  test('preflight reports every failed check of a host at once and changes nothing on any host', async () => {
    const keys = await apply(['--tags', 'ssh-keys']);
    assert.equal(keys.code, 0, failures(keys));
    // A stray listener on the kubelet's port, and a memory minimum node3 cannot meet.
    await sh('node3', "systemd-run --quiet --unit=e2e-stray-listener node -e \"require('net').createServer().listen(10250)\"");
    await sh('node3', 'for i in $(seq 1 50); do ss -ltnH "sport = :10250" | grep -q LISTEN && exit 0; sleep 0.1; done; exit 1');
    await mkdir(path.join(lab.inventoryDir, 'host_vars'), { recursive: true });
    await writeFile(path.join(lab.inventoryDir, 'host_vars', 'node3.yml'), 'preflight_min_memory_mb_node: 16000000\n');
    for (const h of HOSTS) await sh(h, 'touch /root/.e2e-before-preflight');

    const run = await apply();
    assert.equal(run.code, 1, run.stderr);
    const finish = of(run.events, 'host:finish').filter((e) => e.play === 'Facts and preflight checks');
    assert.deepEqual(finish.map((e) => `${e.host} ${e.status}`).sort(), ['node1 ok', 'node2 ok', 'node3 failed']);
    const message = finish.find((e) => e.host === 'node3')!.error!.message;
    assert.match(message, /^preflight: 2 checks failed/);
    assert.match(message, /port 10250 \(kubelet API\): found in use by "node" \(pid \d+, e2e-stray-listener\.service\) on [^;]*:10250; expected free, or held by kubelet\.service/);
    assert.match(message, /memory: found \d+ MiB; expected at least 16000000 MiB \(preflight_min_memory_mb_node\)/);
    assert.ok(of(run.events, 'play:skip').some((e) => e.play === 'Container runtime'), 'later plays are skipped');
    for (const h of HOSTS) {
      const changed = await sh(h, "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/log \\) -prune -o -newer /root/.e2e-before-preflight -print");
      assert.equal(changed.trim(), '', `${h} changed during a failed preflight:\n${changed}`);
    }

    await sh('node3', 'systemctl stop e2e-stray-listener');
    await rm(path.join(lab.inventoryDir, 'host_vars', 'node3.yml'));
  });

  test('apply: containerd answers, each node has its pod CIDR and routes, and kubectl lists 3 Ready nodes', async () => {
    const run = await apply();
    assert.equal(run.code, 0, failures(run));
    const cidrs: Record<string, string> = { node1: '10.233.64.0/24', node2: '10.233.65.0/24', node3: '10.233.66.0/24' };
    for (const h of HOSTS) {
      assert.match(await sh(h, '/usr/local/bin/ctr --address /run/containerd/containerd.sock version'), /Server:\n\s+Version:\s+1\.6\.20/);
      const conf = JSON.parse(await sh(h, 'cat /etc/cni/net.d/10-kprov-bridge.conflist')) as { plugins: { type: string; ipam?: { subnet: string; gateway: string } }[] };
      const bridge = conf.plugins.find((p) => p.type === 'bridge')!;
      assert.equal(bridge.ipam?.subnet, cidrs[h]);
      assert.equal(bridge.ipam?.gateway, cidrs[h]!.replace('.0/24', '.1'));
      const routes = (await sh(h, 'ip -o -4 route show')).split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
      for (const other of HOSTS.filter((o) => o !== h)) {
        assert.ok(routes.some((l) => l.startsWith(`${cidrs[other]} via ${ips[other]} `) && l.includes(`proto ${ROUTE_PROTO}`)), `${h} has no route to ${other}'s pods:\n${routes.join('\n')}`);
      }
      assert.equal((await sh(h, 'systemctl is-active kprov-pod-routes containerd kubelet kube-proxy')).trim().split('\n').join(' '), 'active active active active');
    }
    const nodes = JSON.parse(await sh('node1', '/usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o json')) as {
      items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[]; nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } } }[];
    };
    assert.deepEqual(
      nodes.items.map((n) => `${n.metadata.name} ${n.status.conditions.find((c) => c.type === 'Ready')?.status} ${n.status.nodeInfo.kubeletVersion}`).sort(),
      ['node1 True v1.13.5', 'node2 True v1.13.5', 'node3 True v1.13.5'],
    );
    assert.ok(nodes.items.every((n) => n.status.nodeInfo.containerRuntimeVersion.startsWith('containerd://1.6.20')));
    const table = await sh('node1', '/usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes');
    assert.equal(table.split('\n').filter((l) => / Ready /.test(l)).length, 3, table);
  });

  test('the CNI config kprov wrote works with the plugins it installed: a pod namespace gets an address in the node CIDR', async () => {
    // No pods run in the lab (the kubelet is a stand-in), so run the chain as a runtime would:
    // each plugin in order with the previous result, CNI_* in the environment, then DEL in reverse.
    // The plugins write /proc/sys, read-only in the container, so each runs in a private mount
    // namespace where it is remounted writable.
    const host = 'node2';
    const conf = JSON.parse(await sh(host, 'cat /etc/cni/net.d/10-kprov-bridge.conflist')) as { cniVersion: string; name: string; plugins: { type: string }[] };
    const pod = 'kprov-e2e-pod';
    await sh(host, `ip netns add ${pod}`);
    try {
      const plugin = async (command: 'ADD' | 'DEL', p: { type: string }, prev: unknown): Promise<unknown> => {
        const env = [`CNI_COMMAND=${command}`, 'CNI_PATH=/opt/cni/bin', `CNI_CONTAINERID=${pod}`, `CNI_NETNS=/run/netns/${pod}`, 'CNI_IFNAME=eth0'];
        const input = JSON.stringify({ ...p, cniVersion: conf.cniVersion, name: conf.name, ...(prev !== undefined ? { prevResult: prev } : {}) });
        const r = await lab.exec(host, ['unshare', '-m', 'sh', '-c', 'mount -o remount,bind,rw /proc/sys && exec "$@"', 'sh', 'env', ...env, `/opt/cni/bin/${p.type}`], { input, timeoutMs: 30_000 });
        assert.equal(r.code, 0, `${command} ${p.type}: ${r.stdout}${r.stderr}`);
        return command === 'ADD' ? JSON.parse(r.stdout) : undefined;
      };
      let result: unknown;
      for (const p of conf.plugins) result = await plugin('ADD', p, result);
      const ips = (result as { cniVersion: string; ips: { address: string; gateway?: string }[] }).ips;
      assert.equal((result as { cniVersion: string }).cniVersion, '0.3.1');
      assert.ok(ips.some((ip) => /^10\.233\.65\.\d+\/24$/.test(ip.address) && ip.gateway === '10.233.65.1'), JSON.stringify(result));
      assert.match(await sh(host, `ip netns exec ${pod} ip -o -4 addr show dev eth0`), /inet 10\.233\.65\.\d+\/24/);
      assert.match(await sh(host, `ip netns exec ${pod} ip -4 route show default`), /^default via 10\.233\.65\.1 dev eth0/);
      assert.match(await sh(host, `ip netns exec ${pod} ip -o link show dev lo`), /[<,]UP[,>]/);
      assert.match(await sh(host, 'ip -o -4 addr show dev cni0'), /inet 10\.233\.65\.1\/24/);
      for (const p of [...conf.plugins].reverse()) await plugin('DEL', p, result);
    } finally {
      await lab.exec(host, ['ip', 'netns', 'del', pod]);
    }
  });

  test('a re-apply changes nothing on any host and restarts nothing', async () => {
    const before = await invocations();
    const run = await apply();
    assert.equal(run.code, 0, failures(run));
    const recap = of(run.events, 'run:finish')[0]!.recap;
    assert.deepEqual(recap.map((r) => `${r.host} changed=${r.changed}`), HOSTS.map((h) => `${h} changed=0`));
    assert.equal(of(run.events, 'handler:start').length, 0);
    assert.deepEqual(await invocations(), before);
  });

  test('kube_proxy_mode=ipvs touches only kube-proxy: its config changes, it alone restarts', async () => {
    const before = await invocations();
    const vars = path.join(lab.inventoryDir, 'group_vars', 'k8s_cluster', 'k8s-cluster.yml');
    const text = await readFile(vars, 'utf8');
    assert.match(text, /^kube_proxy_mode: iptables$/m);
    await writeFile(vars, text.replace(/^kube_proxy_mode: iptables$/m, 'kube_proxy_mode: ipvs'));
    const run = await apply();
    assert.equal(run.code, 0, failures(run));
    const changed = of(run.events, 'task:finish').filter((e) => e.status === 'changed');
    assert.deepEqual(
      changed.map((e) => `${e.host} ${e.task}`).sort(),
      HOSTS.map((h) => `${h} file /var/lib/kube-proxy/config.yaml`),
    );
    assert.deepEqual(
      of(run.events, 'handler:finish').map((e) => `${e.host} ${e.handler} ${e.status}`).sort(),
      HOSTS.map((h) => `${h} restart kube-proxy changed`),
    );
    const afterIds = await invocations();
    for (const h of HOSTS) {
      assert.equal(afterIds[h]!['kubelet'], before[h]!['kubelet'], `${h}: kubelet restarted`);
      assert.equal(afterIds[h]!['containerd'], before[h]!['containerd'], `${h}: containerd restarted`);
      assert.notEqual(afterIds[h]!['kube-proxy'], before[h]!['kube-proxy'], `${h}: kube-proxy did not restart`);
      assert.match(await sh(h, 'cat /var/lib/kube-proxy/config.yaml'), /^mode: "ipvs"$/m);
      // The lab kernel has no ip_vs: kube-proxy falls back to iptables, as v1.13 does, and stays healthy.
      assert.match(await sh(h, 'curl -fsS http://127.0.0.1:10249/proxyMode'), /^(ipvs|iptables)$/);
    }
  });

  test('a full file system on one worker: that host fails naming the path and "no space left on device", the others converge, and the next run finishes it', async () => {
    // A 64 KiB tmpfs over node3's bin directory: the binaries vanish from view and none fits back.
    await sh('node3', 'mount -t tmpfs -o size=64k kprov-full /usr/local/bin');
    try {
      const full = await apply();
      assert.equal(full.code, 1, 'a host failed');
      const node3 = of(full.events, 'host:finish').find((e) => e.host === 'node3' && e.error);
      assert.ok(node3, full.stdout.slice(-3000));
      assert.match(node3.error!.message, /writing \/usr\/local\/bin\/[a-z-]+: no space left on device/);
      const recap = of(full.events, 'run:finish')[0]!.recap;
      assert.deepEqual(recap.filter((r) => r.failed > 0 || r.unreachable > 0).map((r) => r.host), ['node3'], 'only the full host failed');
    } finally {
      await sh('node3', 'umount /usr/local/bin');
    }
    // Room again: the next run converges, and the one after changes nothing.
    const again = await apply();
    assert.equal(again.code, 0, failures(again));
    const settled = await apply();
    assert.equal(settled.code, 0, failures(settled));
    assert.deepEqual(of(settled.events, 'run:finish')[0]!.recap.map((r) => `${r.host} changed=${r.changed}`), HOSTS.map((h) => `${h} changed=0`));
  });
});
