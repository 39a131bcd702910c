/**
 * The bundles under Debian bookworm's Node 18, which lab hosts run them with: every stand-in
 * starts, and a small cluster (apiserver on real etcd, kubelet on real containerd,
 * controller-manager, scheduler, kube-proxy) comes up Ready and healthy for the real kubectl.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { standinNames } from '../../../dev/release/bundle.js';
import { debianNode18, type Node18 } from './support/node18.js';
import { waitFor } from './support/netns.js';
import { Scenario, standins } from './support/scenario.js';

let node18: Node18;
let s: Scenario;

before(async () => {
  node18 = await debianNode18();
  s = await Scenario.create();
  s.runner = node18.wrap;
});

after(async () => {
  await s?.destroy();
});

test('Debian\'s Node 18 runs every bundle', async () => {
  assert.match(node18.version, /^v18\./);
  const bins = await standins();
  for (const name of standinNames) {
    const [cmd, ...pre] = node18.wrap;
    const r = await execa(cmd!, [...pre, bins[name], '--version'], { reject: false });
    assert.equal(r.exitCode, 0, `${name}: ${String(r.stderr)}`);
    assert.equal(r.stdout, 'Kubernetes v1.13.5');
  }
});

test('a stand-in cluster on Node 18 comes up Ready and healthy', async () => {
  await s.startEtcd();
  await s.startApiserver();
  const containerd = await s.startContainerd();
  await s.writeFile('cni/net.d/10-lab.conf', JSON.stringify({ cniVersion: '0.3.1', name: 'lab', type: 'bridge', ipam: { type: 'host-local', subnet: '10.244.1.0/24' } }));
  const config = await s.writeFile('kubelet.yaml', toYaml({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', nodeStatusUpdateFrequency: '1s', authentication: { x509: { clientCAFile: s.certs.ca.cert } } }));
  const kubelet = s.start('kubelet', [
    `--config=${config}`,
    `--kubeconfig=${await s.kubeconfig('kubelet-n18', await s.nodeCert('n18'))}`,
    '--hostname-override=n18',
    '--container-runtime=remote',
    `--container-runtime-endpoint=unix://${containerd.socket}`,
    `--cni-conf-dir=${path.join(s.dir, 'cni', 'net.d')}`,
    `--cni-bin-dir=${await s.cniBinDir()}`,
  ]);
  s.start('kube-controller-manager', [
    `--kubeconfig=${await s.kubeconfig('cm', s.certs.controllerManager)}`,
    '--allocate-node-cidrs=true',
    '--cluster-cidr=10.244.0.0/16',
    '--node-monitor-period=1s',
    '--node-monitor-grace-period=4s',
  ]);
  s.start('kube-scheduler', [`--kubeconfig=${await s.kubeconfig('scheduler', s.certs.scheduler)}`]);
  const proxy = s.start('kube-proxy', [`--kubeconfig=${await s.kubeconfig('proxy', s.certs.kubeProxy)}`, '--cluster-cidr=10.244.0.0/16']);

  await waitFor('n18 Ready', async () => {
    const r = await s.kubectl(['get', 'nodes', '--no-headers']);
    return /^n18\s+Ready\s/m.test(r.stdout) ? true : undefined;
  }, 30_000, 500);
  await waitFor('componentstatuses healthy', async () => {
    const r = await s.kubectl(['get', 'componentstatuses', '--no-headers']);
    const rows = r.stdout.trim().split('\n');
    return rows.length === 3 && rows.every((row) => /\sHealthy\s/.test(row)) ? true : undefined;
  }, 30_000, 500);
  // The controller-manager's IPAM gives the node a pod CIDR from --cluster-cidr once it leads.
  const podCIDR = await waitFor('a pod CIDR for n18', async () => {
    const node = JSON.parse((await s.kubectl(['get', 'node', 'n18', '-o', 'json'])).stdout) as { spec: { podCIDR?: string } };
    return node.spec.podCIDR;
  }, 30_000, 500);
  assert.match(podCIDR, /^10\.244\.\d+\.0\/24$/);
  const healthz = await waitFor('kube-proxy healthz', async () => {
    if (!proxy.running) throw new Error(proxy.output());
    const r = await s.probe({ url: 'http://127.0.0.1:10256/healthz' });
    return r.status === 200 ? r : undefined;
  }, 15_000);
  assert.match(healthz.body!, /lastUpdated/);

  // The kubelet dies: the controller-manager's node lifecycle marks the node Unknown (NotReady).
  kubelet.kill('SIGKILL');
  await waitFor('n18 NotReady after the grace period', async () => {
    const r = await s.kubectl(['get', 'node', 'n18', '-o', 'json']);
    const ready = (JSON.parse(r.stdout) as { status: { conditions: Array<{ type: string; status: string; reason?: string }> } }).status.conditions.find((c) => c.type === 'Ready');
    return ready?.status === 'Unknown' && ready.reason === 'NodeStatusUnknown' ? true : undefined;
  }, 20_000, 500);
  assert.match((await s.kubectl(['get', 'nodes', '--no-headers'])).stdout, /^n18\s+NotReady\s/m);
});
