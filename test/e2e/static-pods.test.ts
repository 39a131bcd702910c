/**
 * control_plane_deployment_type and etcd_deployment_type static_pod on a 5-host lab (node1–3
 * control plane + etcd, node4 and node5 workers through their node-local API proxies), kubeadm's
 * layout:
 *   1. a fresh apply: the real kubectl lists the 12 control-plane mirror pods and the 2 proxies
 *      Running on their nodes, 3 healthy etcd members, no etcd or control-plane systemd unit, the manifests are in /etc/kubernetes/manifests,
 *      and `kprov apply check` passes (pods on every node reach each other);
 *   2. a re-apply changes nothing and restarts nothing;
 *   3. a changed API server flag replaces only the kube-apiserver pods, one host at a time, each
 *      healthy before the next; the controller managers and schedulers keep running;
 *   4. switched to systemd units and 5. back to static pods (node1's kube-apiserver image removed
 *      first: it is pulled before the unit stops), in place, one host at a time: `kprov plan`
 *      shows the switch, the API answers node4 through its proxy every second throughout, a key
 *      written to etcd before is still there, and each re-apply changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pinVariables, startClusterLab } from '../../dev/cluster-lab.js';
import type { RunEvent } from '../../src/engine/events.js';
import { labSkipReason } from '../support/lab.js';
import { eventsOf, hostFailures, parseRunEvents } from '../support/run-events.js';
import { ETCD_TLS, HOST_KUBECTL } from '../support/converged.js';

const NAME = 'e2e-static';
const HOSTS = ['node1', 'node2', 'node3', 'node4', 'node5'];
const CONTROL_PLANE = ['node1', 'node2', 'node3'];
const ETCD = CONTROL_PLANE;
const WORKERS = ['node4', 'node5'];
const COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const of = eventsOf;

const parse = parseRunEvents;
const failures = hostFailures;

test('etcd and the control plane as static pods: mirror pods Running, no units, check passes, a no-op re-apply, a flag change rolls one host at a time, switched to units and back in place', { skip: labSkipReason(), timeout: 1_200_000 }, async () => {
  const lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
  try {
    const ips = Object.fromEntries(lab.hosts.map((h) => [h.name, h.address]));
    const line = (h: string) => `${h} ansible_host=${ips[h]} ip=${ips[h]} access_ip=${ips[h]}`;
    await writeFile(
      path.join(lab.inventoryDir, 'inventory.ini'),
      `[all]\n${HOSTS.map(line).join('\n')}\n\n[kube_control_plane]\n${CONTROL_PLANE.join('\n')}\n\n[etcd]\n${ETCD.join('\n')}\n\n[kube_node]\n${HOSTS.join('\n')}\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`,
    );
    await pinVariables(lab.inventoryDir, { control_plane_deployment_type: 'static_pod', etcd_deployment_type: 'static_pod', dns_mode: 'none' });
    const kprov = async (args: string[]) => {
      const started = Date.now();
      const r = await lab.kprov([...args, '-i', lab.inventoryDir, '--json'], { timeoutMs: 900_000 });
      return { ...r, events: parse(r.stdout), ms: Date.now() - started };
    };
    const kubectl = (args: string[]) => lab.exec('node1', [...HOST_KUBECTL, ...args], { timeoutMs: 60_000 });
    /** component-node → container id, from containerd on each host. */
    const containers = async () => {
      const out: Record<string, string> = {};
      for (const host of CONTROL_PLANE) {
        for (const c of [...COMPONENTS, 'etcd']) {
          const r = await lab.exec(host, ['ctr', '-n', 'k8s.io', 'containers', 'ls', '-q', `labels."io.kubernetes.container.name"==${c}`]);
          out[`${c}-${host}`] = r.stdout.trim();
        }
      }
      return out;
    };

    // 1. A fresh cluster.
    const fresh = await kprov(['apply', 'cluster']);
    assert.equal(fresh.code, 0, failures(fresh));
    console.log(`measured: fresh apply, etcd and control plane as static pods on 5 hosts ${(fresh.ms / 1000).toFixed(1)} s`);
    let rows = '';
    const expected = [...COMPONENTS.flatMap((c) => CONTROL_PLANE.map((h) => `${c}-${h} ${h} Running`)), ...ETCD.map((h) => `etcd-${h} ${h} Running`), ...WORKERS.map((h) => `nginx-proxy-${h} ${h} Running`)].sort();
    for (let i = 0; i < 60; i++) {
      const r = await kubectl(['-n', 'kube-system', 'get', 'pods', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{"\\n"}{end}']);
      rows = r.stdout.trim().split('\n').sort().join('\n');
      if (rows === expected.join('\n')) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(rows, expected.join('\n'), 'the mirror pods, Running on their nodes');
    for (const host of HOSTS) {
      const r = await lab.exec(host, ['sh', '-c', 'ls /etc/kubernetes/manifests; ls /etc/systemd/system | grep -E "^(etcd|kube-(apiserver|controller-manager|scheduler))\\." || true']);
      const manifests = (CONTROL_PLANE.includes(host) ? ['etcd', ...COMPONENTS].map((c) => `${c}.yaml`) : ['nginx-proxy.yml']).sort();
      assert.deepEqual(r.stdout.trim().split('\n'), manifests, `${host}: manifests, no units`);
    }
    // The real etcdctl: three healthy members, etcd running in its pods.
    const health = await lab.exec('node1', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, `--endpoints=${ETCD.map((h) => `https://${ips[h]}:2379`).join(',')}`, 'endpoint', 'health']);
    assert.equal((`${health.stdout}${health.stderr}`.match(/ is healthy: /g) ?? []).length, 3, health.stdout + health.stderr);
    const nodes = await kubectl(['get', 'nodes', '--no-headers']);
    assert.deepEqual(nodes.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')), HOSTS.map((h) => `${h} Ready`));
    const check = await kprov(['apply', 'check']);
    assert.equal(check.code, 0, failures(check));

    // 2. Nothing to do.
    const before = await containers();
    const again = await kprov(['apply', 'cluster']);
    assert.equal(again.code, 0, failures(again));
    assert.deepEqual(of(again.events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host} ${e.task}`), []);
    assert.deepEqual(of(again.events, 'handler:start').map((e) => `${e.host} ${e.handler}`), []);
    assert.deepEqual(await containers(), before, 'no pod replaced');
    console.log(`measured: no-op re-apply ${(again.ms / 1000).toFixed(1)} s`);

    // 3. One flag of the API server: its pods replaced one host at a time; the others untouched.
    await pinVariables(lab.inventoryDir, { kube_kubeadm_apiserver_extra_args: '{"event-ttl": "2h0m0s"}' });
    const changed = await kprov(['apply', 'cluster']);
    assert.equal(changed.code, 0, failures(changed));
    const handlers = of(changed.events, 'handler:finish').map((e) => `${e.host} ${e.handler} ${e.status}`);
    assert.deepEqual(handlers, CONTROL_PLANE.map((h) => `${h} restart kube-apiserver changed`), 'rolling, apiserver only');
    const after = await containers();
    for (const key of Object.keys(before)) {
      if (key.startsWith('kube-apiserver-')) assert.notEqual(after[key], before[key], `${key} replaced`);
      else assert.equal(after[key], before[key], `${key} kept`);
    }
    const command = await kubectl(['-n', 'kube-system', 'get', 'pod', 'kube-apiserver-node2', '-o', 'jsonpath={.spec.containers[0].command}']);
    assert.match(command.stdout, /--event-ttl=2h0m0s/);

    // 4. and 5. To systemd units and back, in place: data kept, the API answering throughout.
    const put = await lab.exec('node1', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, `--endpoints=https://${ips['node1']}:2379`, 'put', '/kprov-e2e/switch', 'kept']);
    assert.equal(put.code, 0, put.stderr);
    for (const mode of ['host', 'static_pod'] as const) {
      await pinVariables(lab.inventoryDir, { control_plane_deployment_type: mode, etcd_deployment_type: mode });
      // Back to static pods without node1's kube-apiserver image: pulled before its unit stops.
      const image = `k8s.gcr.io/kube-apiserver:${lab.release.kubeVersion}`;
      if (mode === 'static_pod') assert.equal((await lab.exec('node1', ['ctr', '-n', 'k8s.io', 'images', 'rm', image])).code, 0);
      const plan = await lab.kprov(['plan', 'cluster', '-i', lab.inventoryDir], { timeoutMs: 300_000 });
      assert.equal(plan.code, 0, plan.stderr);
      if (mode === 'static_pod') assert.match(plan.stdout, new RegExp(`pull ${image.replace(/\./g, '\\.')} through the kubelet`));
      for (const c of ['etcd', 'kube-apiserver']) {
        assert.match(plan.stdout, new RegExp(mode === 'host' ? `switch ${c} from its static pod to its systemd unit` : `switch ${c} from its systemd unit to a static pod`));
      }
      // A worker asks the API through its proxy every second while the control plane switches.
      const samples = { ok: 0, failed: 0, failures: [] as string[] };
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const r = await lab.exec('node4', ['curl', '-sk', '--max-time', '2', 'https://127.0.0.1:6443/healthz'], { timeoutMs: 10_000 });
          if (r.stdout.trim() === 'ok') samples.ok++;
          else {
            samples.failed++;
            samples.failures.push(`${new Date().toISOString()} exit ${r.code}: ${r.stdout.trim().slice(0, 200)} ${r.stderr.trim().slice(0, 200)}`);
          }
          await new Promise((res) => setTimeout(res, 1000));
        }
      })();
      const switched = await kprov(['apply', 'cluster']);
      sampling = false;
      await sampler;
      assert.equal(switched.code, 0, failures(switched));
      console.log(`measured: switch to ${mode} ${(switched.ms / 1000).toFixed(1)} s; API through node4's proxy: ${samples.ok} ok, ${samples.failed} failed`);
      assert.equal(samples.failed, 0, `the API answered throughout (${samples.ok} ok):\n${samples.failures.join('\n')}\n${of(switched.events, 'handler:finish').map((e) => `${e.host} ${e.handler} ${e.status} ${e.durationMs} ms`).join('\n')}`);
      const handlers = of(switched.events, 'handler:finish').map((e) => `${e.host} ${e.handler} ${e.status}`);
      assert.deepEqual(handlers, [...ETCD.map((h) => `${h} restart etcd changed`), ...COMPONENTS.flatMap((c) => CONTROL_PLANE.map((h) => `${h} restart ${c} changed`))], `${mode}: etcd, then every component, one host at a time`);
      for (const host of CONTROL_PLANE) {
        const r = await lab.exec(host, ['sh', '-c', 'ls /etc/kubernetes/manifests; systemctl is-active etcd kube-apiserver kube-controller-manager kube-scheduler || true']);
        const expected = mode === 'host' ? ['active', 'active', 'active', 'active'] : ['etcd.yaml', ...COMPONENTS.map((c) => `${c}.yaml`), 'inactive', 'inactive', 'inactive', 'inactive'];
        assert.deepEqual(r.stdout.trim().split('\n'), expected, `${host} in ${mode} mode`);
      }
      const get = await lab.exec('node1', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, `--endpoints=https://${ips['node1']}:2379`, 'get', '--print-value-only', '/kprov-e2e/switch']);
      assert.equal(get.stdout.trim(), 'kept');
      const noop = await kprov(['apply', 'cluster']);
      assert.equal(noop.code, 0, failures(noop));
      assert.deepEqual(of(noop.events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host} ${e.task}`), [], `${mode}: a re-apply changes nothing`);
    }
  } finally {
    await lab.stop();
  }
});
