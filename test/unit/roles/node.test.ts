import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { splitCommandLine, execStartLines, validateUnitFlags } from '../../../src/cluster/flags.js';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import { isKprovError } from '../../../src/errors.js';
import { CGROUP_DRIVER } from '../../../src/roles/runtime/cgroup-driver.js';
import { KUBE_PROXY_CONFIG, KUBELET_CONFIG } from '../../../src/roles/node/settings.js';
import { nodeRole, renderNodeFiles } from '../../../src/roles/node/index.js';
import { runYaml } from '../engine/playbook-harness.js';
import { fakeArtifacts, loadCluster, nodeFleet, type TestCluster } from './node-cluster.js';

const PLAYBOOK = `
- name: Nodes
  hosts: k8s_cluster
  roles: [node]
`;
const render = createTemplateRenderer();

function flagsOf(unit: string): Map<string, string> {
  const [line] = execStartLines(unit);
  const argv = splitCommandLine(line!);
  return new Map(argv.slice(1).map((a) => {
    const [k, ...v] = a.replace(/^--/, '').split('=');
    return [k!, v.join('=')] as [string, string];
  }));
}

test('the kubelet config is a KubeletConfiguration v1beta1 with webhook auth, the client CA, DNS, pod CIDR and serving cert', async () => {
  const c = await loadCluster(undefined, { kubelet_max_pods: 64, dns_domain: 'example.internal' });
  const files = renderNodeFiles({ render, run: c.run() }, 'node2');
  const cfg = parseYaml(files.kubeletConfig) as Record<string, unknown>;
  assert.equal(cfg['kind'], 'KubeletConfiguration');
  assert.equal(cfg['apiVersion'], 'kubelet.config.k8s.io/v1beta1');
  assert.deepEqual(cfg['authentication'], {
    anonymous: { enabled: false },
    webhook: { enabled: true, cacheTTL: '2m0s' },
    x509: { clientCAFile: '/etc/kubernetes/ssl/ca.crt' },
  });
  assert.deepEqual(cfg['authorization'], { mode: 'Webhook', webhook: { cacheAuthorizedTTL: '5m0s', cacheUnauthorizedTTL: '30s' } });
  assert.equal(cfg['clusterDomain'], 'example.internal');
  assert.deepEqual(cfg['clusterDNS'], ['10.233.0.3']);
  assert.equal(cfg['podCIDR'], '10.233.65.0/24');
  assert.equal(cfg['staticPodPath'], '/etc/kubernetes/manifests');
  assert.equal(files.staticPodPath, '/etc/kubernetes/manifests');
  assert.equal(cfg['readOnlyPort'], 0);
  assert.equal(cfg['tlsCertFile'], '/var/lib/kubelet/pki/kubelet.crt');
  assert.equal(cfg['tlsPrivateKeyFile'], '/var/lib/kubelet/pki/kubelet.key');
  assert.equal(cfg['healthzBindAddress'], '127.0.0.1');
  assert.equal(cfg['healthzPort'], 10248);
  assert.equal(cfg['cgroupDriver'], CGROUP_DRIVER);
  assert.equal(cfg['failSwapOn'], true);
  assert.equal(cfg['maxPods'], 64);
});

test('the kubelet unit carries exactly the v1.13 flags kprov needs, and they pass the flag check', async () => {
  const c = await loadCluster(undefined, { kube_log_level: 3 });
  const { kubeletUnit } = renderNodeFiles({ render, run: c.run() }, 'node3');
  const [line] = execStartLines(kubeletUnit);
  assert.equal(splitCommandLine(line!)[0], '/usr/local/bin/kubelet');
  assert.deepEqual(
    Object.fromEntries(flagsOf(kubeletUnit)),
    {
      config: KUBELET_CONFIG,
      kubeconfig: '/etc/kubernetes/kubelet.conf',
      'container-runtime': 'remote',
      'container-runtime-endpoint': 'unix:///run/containerd/containerd.sock',
      'network-plugin': 'cni',
      'cni-bin-dir': '/opt/cni/bin',
      'cni-conf-dir': '/etc/cni/net.d',
      'hostname-override': 'node3',
      'node-ip': '10.0.0.13',
      'node-labels': 'node-role.kubernetes.io/node=',
      v: '3',
    },
  );
  assert.match(kubeletUnit, /^After=containerd\.service/m);
  assert.match(kubeletUnit, /^Restart=always$/m);
  // The same check renderUnit ran, proven to bite: an extra flag v1.13 does not know fails, naming the template.
  assert.throws(
    () => validateUnitFlags('kubelet', kubeletUnit.replace('--v=3', '--v=3 \\\n  --image-credential-provider-config=/etc/kubernetes/credential-providers.yaml'), 'templates/systemd/kubelet.service.j2', { kubeVersion: 'v1.13.5' }),
    (e: unknown) => isKprovError(e) && /templates\/systemd\/kubelet\.service\.j2: kubelet does not accept --image-credential-provider-config /.test(e.message),
  );
});

test('control-plane hosts register with the master label and taint (kubeadm); one also in kube_node takes workloads', async () => {
  const c = await loadCluster(undefined, {});
  const run = c.run();
  const byHost = (host: string) => flagsOf(renderNodeFiles({ render, run }, host).kubeletUnit);
  const master = run.topology.hosts.find((h) => h.isControlPlane && !h.isWorker);
  assert.ok(master, 'the fixture has a dedicated control-plane host');
  assert.equal(byHost(master.name).get('node-labels'), 'node-role.kubernetes.io/master=');
  assert.equal(byHost(master.name).get('register-with-taints'), 'node-role.kubernetes.io/master=:NoSchedule');
  assert.equal(byHost('node3').get('register-with-taints'), undefined);
  const both = run.topology.hosts.find((h) => h.isControlPlane && h.isWorker);
  if (both) {
    assert.equal(byHost(both.name).get('node-labels'), 'node-role.kubernetes.io/master=,node-role.kubernetes.io/node=');
    assert.equal(byHost(both.name).get('register-with-taints'), undefined);
  }
});

test('kube-proxy: a KubeProxyConfiguration v1alpha1 with mode, cluster CIDR, hostname and its kubeconfig; the unit only points at it', async () => {
  const c = await loadCluster(undefined, { kube_proxy_mode: 'ipvs', kube_pods_subnet: '10.10.0.0/16' });
  const { proxyConfig, proxyUnit } = renderNodeFiles({ render, run: c.run() }, 'node1');
  const cfg = parseYaml(proxyConfig) as Record<string, unknown>;
  assert.equal(cfg['kind'], 'KubeProxyConfiguration');
  assert.equal(cfg['apiVersion'], 'kubeproxy.config.k8s.io/v1alpha1');
  assert.deepEqual(cfg['clientConnection'], { kubeconfig: '/etc/kubernetes/kube-proxy.conf' });
  assert.equal(cfg['mode'], 'ipvs');
  assert.equal(cfg['clusterCIDR'], '10.10.0.0/16');
  assert.equal(cfg['hostnameOverride'], 'node1');
  assert.equal(cfg['healthzBindAddress'], '0.0.0.0:10256');
  assert.equal(cfg['metricsBindAddress'], '127.0.0.1:10249');
  assert.deepEqual(Object.fromEntries(flagsOf(proxyUnit)), { config: KUBE_PROXY_CONFIG, v: '2' });
});

test('kube_config_dir and kube_cert_dir move the node files, and the configs follow', async () => {
  const c = await loadCluster(undefined, { kube_config_dir: '/srv/k8s', kube_cert_dir: '/srv/k8s/pki', bin_dir: '/opt/bin' });
  const f = renderNodeFiles({ render, run: c.run() }, 'node2');
  const kubelet = parseYaml(f.kubeletConfig) as { authentication: { x509: { clientCAFile: string } }; staticPodPath: string };
  assert.equal(kubelet.authentication.x509.clientCAFile, '/srv/k8s/pki/ca.crt');
  assert.equal(kubelet.staticPodPath, '/srv/k8s/manifests');
  assert.equal(flagsOf(f.kubeletUnit).get('kubeconfig'), '/srv/k8s/kubelet.conf');
  assert.match(f.kubeletUnit, /^ExecStart=\/opt\/bin\/kubelet /m);
  assert.equal((parseYaml(f.proxyConfig) as { clientConnection: { kubeconfig: string } }).clientConnection.kubeconfig, '/srv/k8s/kube-proxy.conf');
});

async function applied(c: TestCluster) {
  c.artifacts = fakeArtifacts();
  const { fleet } = nodeFleet(['node1', 'node2', 'node3']);
  const first = await runYaml(PLAYBOOK, { inventory: c.view, roles: [nodeRole], fleet, run: c.run() });
  assert.equal(first.result.status, 'ok', JSON.stringify(first.of('host:finish').map((e) => e.error)));
  return { fleet, first };
}

test('node: first apply starts both components once, healthy; a re-apply changes nothing and restarts nothing', async () => {
  const c = await loadCluster();
  const { fleet, first } = await applied(c);
  for (const m of fleet.machines.values()) {
    for (const u of ['kubelet.service', 'kube-proxy.service']) {
      const state = m.units.get(u);
      assert.deepEqual([state?.enabled, state?.active, state?.failed], [true, true, false], `${m.name} ${u}`);
    }
    // Started by the service task after its files were written: the notified handler does not start it again.
    assert.deepEqual(m.restarts, []);
    assert.equal(m.files.get('/var/lib/kubelet/pki/kubelet.key')?.mode, 0o600);
    assert.equal(m.files.get('/etc/kubernetes/kubelet.conf')?.mode, 0o600);
    assert.ok(m.dirs.has('/etc/kubernetes/manifests'));
    assert.ok(!m.files.has('/etc/kubernetes/ssl/ca.key'), 'a worker never receives the CA key');
  }
  assert.ok(first.of('handler:finish').every((e) => e.status === 'skipped' && /was started by this run after every change/.test(e.reason ?? '')));
  const snaps = new Map([...fleet.machines].map(([n, m]) => [n, m.snapshot()]));
  const again = await runYaml(PLAYBOOK, { inventory: c.view, roles: [nodeRole], fleet, run: c.run() });
  assert.deepEqual(again.result.recap.map((r) => r.changed), [0, 0, 0]);
  assert.equal(again.of('handler:start').length, 0);
  for (const [n, m] of fleet.machines) assert.equal(m.snapshot(), snaps.get(n), n);
});

test('node: changing kube_proxy_mode rewrites only kube-proxy config and restarts only kube-proxy', async () => {
  const c = await loadCluster();
  const { fleet } = await applied(c);
  const ipvs = await loadCluster(undefined, { kube_proxy_mode: 'ipvs' });
  // Same cluster, same PKI: only the variable differs.
  Object.assign(ipvs.inventory, { dir: c.inventory.dir });
  ipvs.artifacts = c.artifacts!;
  const r = await runYaml(PLAYBOOK, { inventory: { ...ipvs.view, dir: c.inventory.dir }, roles: [nodeRole], fleet, run: ipvs.run() });
  assert.equal(r.result.status, 'ok', JSON.stringify(r.of('host:finish').map((e) => e.error)));
  const changed = r.of('task:finish').filter((e) => e.status === 'changed');
  assert.deepEqual([...new Set(changed.map((e) => e.task))], [`file ${KUBE_PROXY_CONFIG}`]);
  for (const m of fleet.machines.values()) {
    assert.deepEqual(m.restarts.map((x) => x.unit), ['kube-proxy.service'], m.name);
    assert.match(m.files.get(KUBE_PROXY_CONFIG)!.content.toString(), /^mode: "ipvs"$/m);
  }
});

test('node: a new kubelet binary restarts the kubelet alone', async () => {
  const c = await loadCluster();
  const { fleet } = await applied(c);
  c.artifacts = fakeArtifacts({ versions: { kubelet: '2' } });
  const r = await runYaml(PLAYBOOK, { inventory: c.view, roles: [nodeRole], fleet, run: c.run() });
  assert.equal(r.result.status, 'ok');
  for (const m of fleet.machines.values()) assert.deepEqual(m.restarts.map((x) => x.unit), ['kubelet.service']);
});

test("Kubespray's tags: --tags kubelet touches only the kubelet's tasks, --tags download only the binaries", async () => {
  const c = await loadCluster();
  const { fleet } = await applied(c);
  const selected = async (tags: string[]) => {
    const r = await runYaml(PLAYBOOK, { inventory: c.view, roles: [nodeRole], fleet, run: c.run(), tags });
    assert.equal(r.result.status, 'ok', JSON.stringify(r.of('host:finish').map((e) => e.error)));
    const listed = r.of('host:tasks').find((e) => e.host === 'node2')!.tasks;
    return listed.map((t) => t.name);
  };
  const kubelet = await selected(['kubelet']);
  assert.ok(kubelet.length > 0 && kubelet.every((n) => /kubelet/.test(n)), kubelet.join(', '));
  const download = await selected(['download']);
  assert.deepEqual(download, ['kubelet binary', 'kube-proxy binary']);
});
