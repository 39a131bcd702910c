/**
 * The kubelet stand-in with real containerd (CRI over gRPC on its unix socket), the real CNI
 * plugins, the apiserver stand-in on real etcd, and the real kubectl 1.20.2 reading the result.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { Scenario } from './support/scenario.js';
import { waitFor, type Proc } from './support/netns.js';

let s: Scenario;
let containerd: { proc: Proc; socket: string };
let kubeletConfig: string;
let cniConfDir: string;
let cniBinDir: string;

before(async () => {
  s = await Scenario.create();
  await s.startEtcd();
  await s.startApiserver();
  containerd = await s.startContainerd();
  cniBinDir = await s.cniBinDir();
  cniConfDir = path.join(s.dir, 'cni', 'net.d');
  await s.writeFile(
    'cni/net.d/10-lab.conflist',
    JSON.stringify({
      cniVersion: '0.3.1',
      name: 'lab',
      plugins: [
        { type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', subnet: '10.244.0.0/24' } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }),
  );
  await s.writeFile('manifests/.keep', '');
  const serving = await s.pki.issue(s.certs.ca, 'kubelet-serving-n1', { cn: 'n1', dns: ['n1'], ip: ['127.0.0.1'], usage: 'server' });
  kubeletConfig = await s.writeFile(
    'kubelet/config.yaml',
    toYaml({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: s.certs.ca.cert } },
      authorization: { mode: 'Webhook' },
      clusterDNS: ['10.96.0.10'],
      clusterDomain: 'cluster.local',
      staticPodPath: path.join(s.dir, 'manifests'),
      nodeStatusUpdateFrequency: '1s',
      failSwapOn: true,
      healthzBindAddress: '127.0.0.1',
      healthzPort: 10248,
      podCIDR: '10.244.0.0/24',
      tlsCertFile: serving.cert,
      tlsPrivateKeyFile: serving.key,
    }),
  );
});

after(async () => {
  await s?.destroy();
});

function kubeletArgs(node: string, kubeconfig: string, extra: string[] = []): string[] {
  return [
    `--config=${kubeletConfig}`,
    `--kubeconfig=${kubeconfig}`,
    `--hostname-override=${node}`,
    '--container-runtime=remote',
    `--container-runtime-endpoint=unix://${containerd.socket}`,
    '--network-plugin=cni',
    `--cni-conf-dir=${cniConfDir}`,
    `--cni-bin-dir=${cniBinDir}`,
    ...extra,
  ];
}

/** `kubectl get nodes` rows as {name, status, roles, version}. */
async function nodes(): Promise<Array<{ name: string; status: string; roles: string; version: string }>> {
  const r = await s.kubectl(['get', 'nodes']);
  assert.equal(r.code, 0, r.stderr);
  const [header, ...rows] = r.stdout.trim().split('\n');
  assert.match(header!, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/);
  return rows.map((row) => {
    const [name, status, roles, , version] = row.trim().split(/\s+/);
    return { name: name!, status: status!, roles: roles!, version: version! };
  });
}

async function waitForStatus(node: string, status: string): Promise<void> {
  await waitFor(`${node} ${status} in kubectl get nodes`, async () => ((await nodes()).find((n) => n.name === node)?.status === status ? true : undefined), 20_000, 500);
}

test('a kubelet whose client certificate names another node is refused before it starts', async () => {
  const n1 = await s.nodeCert('n1');
  const r = await s.run('kubelet', kubeletArgs('n2', await s.kubeconfig('kubelet-n1', n1)));
  assert.equal(r.code, 1);
  const last = r.stderr.trim().split('\n').at(-1)!;
  assert.match(last, /^Error: --kubeconfig=.*kubelet-n1\.conf: the client certificate is for user "system:node:n1" .* node "n2" must authenticate as "system:node:n2"/);
});

test('a kubelet using a non-node identity is refused', async () => {
  const r = await s.run('kubelet', kubeletArgs('n1', await s.kubeconfig('as-admin', s.certs.admin)));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /user "kubernetes-admin" in groups \[system:masters\].*must authenticate as "system:node:n1" in group "system:nodes"/);
});

test('a kubeconfig whose CA does not sign the apiserver certificate fails the kubelet', async () => {
  const n1 = await s.nodeCert('n1');
  const wrongCa = await s.kubeconfig('kubelet-wrong-ca', n1, { ca: s.certs.etcdCa.cert, embed: true });
  const r = await s.run('kubelet', kubeletArgs('n1', wrongCa));
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim().split('\n').at(-1)!, /^Error: --kubeconfig=.*: cannot reach https:\/\/127\.0\.0\.1:6443: x509: certificate signed by unknown authority/);
});

test('kubectl shows the kubelet\'s node Ready; NotReady while the CNI config is gone or containerd is down', async () => {
  const n1 = await s.nodeCert('n1');
  const kubelet = s.start('kubelet', kubeletArgs('n1', await s.kubeconfig('kubelet-n1', n1, { embed: true }), ['--node-labels=node-role.kubernetes.io/node=']));
  await waitForStatus('n1', 'Ready');
  const row = (await nodes()).find((n) => n.name === 'n1')!;
  assert.equal(row.version, 'v1.13.5');
  assert.equal(row.roles, 'node');

  const healthz = await s.probe({ url: 'http://127.0.0.1:10248/healthz' });
  assert.equal(healthz.body, 'ok');
  const api = await s.probe({ url: 'https://127.0.0.1:10250/healthz', ca: s.certs.ca.cert });
  assert.equal(api.status, 401, 'anonymous requests to the kubelet API are refused with this config');

  const wide = await s.kubectl(['get', 'nodes', '-o', 'wide']);
  assert.equal(wide.code, 0, wide.stderr);
  assert.match(wide.stdout, /INTERNAL-IP\s+EXTERNAL-IP\s+OS-IMAGE\s+KERNEL-VERSION\s+CONTAINER-RUNTIME/);
  assert.match(wide.stdout, /n1\s+Ready\s+node\s+\S+\s+v1\.13\.5\s+127\.0\.0\.1\s+<none>\s+.+containerd:\/\/1\.6\.20/);

  const json = await s.kubectl(['get', 'nodes', '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const list = JSON.parse(json.stdout) as { items: Array<{ metadata: { name: string; labels: Record<string, string> }; spec: { podCIDR: string }; status: { nodeInfo: { kubeletVersion: string }; conditions: Array<{ type: string; status: string; lastHeartbeatTime: string; message?: string }> } }> };
  const node = list.items.find((i) => i.metadata.name === 'n1')!;
  assert.equal(node.status.nodeInfo.kubeletVersion, 'v1.13.5');
  assert.equal(node.spec.podCIDR, '10.244.0.0/24');
  assert.equal(node.metadata.labels['kubernetes.io/hostname'], 'n1');
  const firstBeat = node.status.conditions.find((c) => c.type === 'Ready')!.lastHeartbeatTime;
  await waitFor('a later heartbeat', async () => {
    const again = JSON.parse((await s.kubectl(['get', 'node', 'n1', '-o', 'json'])).stdout) as typeof node;
    return again.status.conditions.find((c) => c.type === 'Ready')!.lastHeartbeatTime !== firstBeat ? true : undefined;
  }, 10_000, 500);

  const version = await s.kubectl(['version', '-o', 'json']);
  assert.equal(version.code, 0, version.stderr);
  assert.equal((JSON.parse(version.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion, 'v1.13.5');

  // The CNI network configuration disappears: NotReady with the runtime network reason; back: Ready.
  const conf = path.join(cniConfDir, '10-lab.conflist');
  await rename(conf, `${conf}.off`);
  await waitForStatus('n1', 'NotReady');
  const notReady = JSON.parse((await s.kubectl(['get', 'node', 'n1', '-o', 'json'])).stdout) as typeof node;
  assert.match(notReady.status.conditions.find((c) => c.type === 'Ready')!.message!, /NetworkPluginNotReady .*cni config uninitialized/);
  await rename(`${conf}.off`, conf);
  await waitForStatus('n1', 'Ready');

  // containerd stops: NotReady, "container runtime is down".
  await containerd.proc.stop();
  await waitForStatus('n1', 'NotReady');
  const down = JSON.parse((await s.kubectl(['get', 'node', 'n1', '-o', 'json'])).stdout) as typeof notReady;
  assert.match(down.status.conditions.find((c) => c.type === 'Ready')!.message!, /container runtime is down/);
  assert.ok(kubelet.running, 'the kubelet keeps running and reporting');
  await kubelet.stop();
  assert.equal(kubelet.exitCode, 0, 'SIGTERM is a clean stop');
  assert.match(kubelet.output(), /Received signal terminated, shutting down/);
});
