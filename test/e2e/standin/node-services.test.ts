/**
 * The node side of "applications reachable", in one private network namespace: real etcd, the
 * apiserver stand-in (advertising a node address 10.99.0.1 on a veth link, so pods reach it through
 * the `kubernetes` Service), real containerd + runc + the CNI bridge, the kubelet and kube-proxy
 * stand-ins, and the lab images (pause, workload, the coredns stand-in) imported with ctr.
 *   1. the kubelet runs two web pods with a configMap and a secret volume, service environment
 *      variables and a readiness probe (Ready only once it succeeds);
 *   2. kube-proxy writes v1.13 iptables rules: REJECT while the Service has no endpoints, then curl
 *      to the ClusterIP and the NodePort reaches both pods; rules follow the Endpoints and go with
 *      the Service;
 *   3. a liveness probe (exec through CRI ExecSync) that fails restarts its container;
 *   4. the coredns image runs as Kubespray runs it (Corefile from a ConfigMap, service-account
 *      token secret volume, in-cluster API access through kube-proxy's rules) and answers a
 *      service name through the kube-dns ClusterIP, SERVFAILs an outside name; a broken Corefile
 *      fails the container with CoreDNS's error.
 * The objects the other controllers would make (Endpoints, cluster IPs, the token secret) are
 * written by the test with explicit fields.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureLabImages } from '../../../dev/lab-images.js';
import { DEFAULT_CACHE_DIR, debPackage } from '../../../dev/release/debs.js';
import { COREDNS_IMAGE, WORKLOAD_IMAGE } from '../../../dev/release/images.js';
import { CriClient } from '../../../dev/standin/kubelet/cri-client.js';
import { KUBESPRAY_COREFILE } from '../../support/kubespray-corefile.js';
import { Scenario } from './support/scenario.js';
import { waitFor, type Proc } from './support/netns.js';

const NODE_IP = '10.99.0.1';
const POD_CIDR = '10.244.0.0/24';
const WEB_IP = '10.96.0.50';
const DNS_IP = '10.96.0.10';
const DNS_TOKEN = 'coredns-token-0123456789abcdef';

let s: Scenario;
let kubelet: Proc;
let proxy: Proc;
let ctr: string;
let busybox: string;
let socket: string;

interface PodJson {
  metadata: { uid: string };
  status: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ ready: boolean; restartCount: number; state: Record<string, Record<string, unknown>> }> };
}

const admin = (method: string, p: string, body?: unknown, contentType?: string) => s.api(s.certs.admin, method, p, body, contentType);
async function create(p: string, body: unknown): Promise<void> {
  const r = await admin('POST', p, body);
  assert.equal(r.status, 201, `${p}: ${r.body ?? r.error}`);
}
async function pod(ns: string, name: string): Promise<PodJson> {
  const r = await admin('GET', `/api/v1/namespaces/${ns}/pods/${name}`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body!) as PodJson;
}
const alive = () => {
  for (const p of [kubelet, proxy]) if (p && !p.running) throw new Error(`${p.label} exited:\n${p.output().slice(-3000)}`);
};
const sh = (cmd: string, args: string[], timeoutMs = 20_000) => s.ns.run(cmd, args, { timeoutMs });
const natRules = async () => (await sh('iptables-save', ['-t', 'nat'])).stdout;
async function curl(url: string): Promise<string> {
  const r = await sh('curl', ['-sS', '--max-time', '3', url]);
  return r.code === 0 ? r.stdout.trim() : `error ${r.code}: ${r.stderr.trim()}`;
}
async function nslookup(name: string, type = 'a'): Promise<{ code: number; out: string }> {
  const r = await sh('timeout', ['10', busybox, 'nslookup', `-type=${type}`, name, DNS_IP]);
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

before(async () => {
  s = await Scenario.create();
  const images = await ensureLabImages();
  assert.ok(images.archive, 'the lab images archive');
  const containerdRoot = path.join((await debPackage(DEFAULT_CACHE_DIR, 'containerd')).root, 'usr', 'bin');
  const runcRoot = path.join((await debPackage(DEFAULT_CACHE_DIR, 'runc')).root, 'usr', 'sbin');
  busybox = path.join((await debPackage(DEFAULT_CACHE_DIR, 'busybox-static')).root, 'bin', 'busybox');
  ctr = path.join(containerdRoot, 'ctr');
  const cniBinDir = await s.cniBinDir();
  const cniConfDir = path.join(s.dir, 'cni', 'net.d');
  await s.writeFile('cni/net.d/10-lab.conflist', JSON.stringify({ cniVersion: '0.3.1', name: 'lab', plugins: [{ type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', subnet: POD_CIDR, routes: [{ dst: '0.0.0.0/0' }] } }] }));
  // The node's address on a veth pair whose both ends stay in this namespace, and a default route
  // through it (as a node has one), so cluster IPs are routable before kube-proxy DNATs them.
  for (const args of [
    ['link', 'add', 'node0', 'type', 'veth', 'peer', 'name', 'node0p'],
    ['addr', 'add', `${NODE_IP}/24`, 'dev', 'node0'],
    ['link', 'set', 'node0p', 'up'],
    ['link', 'set', 'node0', 'up'],
    ['route', 'add', 'default', 'via', '10.99.0.254', 'dev', 'node0'],
  ]) {
    const r = await sh('ip', args);
    assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`);
  }

  await s.startEtcd();
  const tokens = await s.writeFile('pki/tokens.csv', `${DNS_TOKEN},system:serviceaccount:kube-system:coredns,uid-coredns,"system:serviceaccounts,system:serviceaccounts:kube-system"\n`);
  // No controller-manager here to make service accounts: their admission is off, and the pods
  // below declare the token volume the plugin would add.
  const apiArgs = s.apiserverArgs([`--token-auth-file=${tokens}`, '--disable-admission-plugins=ServiceAccount']).map((a) => (a.startsWith('--advertise-address=') ? `--advertise-address=${NODE_IP}` : a.startsWith('--authorization-mode=') ? '--authorization-mode=AlwaysAllow' : a));
  const apiserver = s.start('kube-apiserver', apiArgs);
  await waitFor('kube-apiserver /healthz', async () => {
    if (!apiserver.running) throw new Error(`kube-apiserver exited:\n${apiserver.output().slice(-2000)}`);
    return (await s.probe({ url: `${s.server}/healthz`, ca: s.certs.ca.cert })).status === 200 ? true : undefined;
  }, 15_000);

  const containerd = await s.startContainerd({
    config: [
      'version = 2',
      '[plugins."io.containerd.grpc.v1.cri"]',
      '  sandbox_image = "k8s.gcr.io/pause:3.1"',
      '  restrict_oom_score_adj = true',
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      `    bin_dir = "${cniBinDir}"`,
      `    conf_dir = "${cniConfDir}"`,
      '',
    ].join('\n'),
    env: { PATH: `${containerdRoot}:${runcRoot}:${process.env['PATH'] ?? '/usr/bin:/bin'}` },
  });
  socket = containerd.socket;
  const imported = await sh(ctr, ['--address', socket, '-n', 'k8s.io', 'images', 'import', images.archive!], 120_000);
  assert.equal(imported.code, 0, imported.stderr);

  await s.writeFile('manifests/.keep', '');
  const nodeCert = await s.nodeCert('n1');
  const kubeletConfig = await s.writeFile(
    'kubelet/config.json',
    JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: s.certs.ca.cert } },
      authorization: { mode: 'Webhook' },
      clusterDNS: [DNS_IP],
      clusterDomain: 'cluster.local',
      staticPodPath: path.join(s.dir, 'manifests'),
      podCIDR: POD_CIDR,
      cgroupDriver: 'cgroupfs',
      healthzPort: 10248,
    }),
  );
  kubelet = s.start('kubelet', [
    `--config=${kubeletConfig}`,
    `--kubeconfig=${await s.kubeconfig('kubelet-n1', nodeCert)}`,
    '--hostname-override=n1',
    `--node-ip=${NODE_IP}`,
    `--root-dir=${path.join(s.dir, 'kubelet-root')}`,
    '--container-runtime=remote',
    `--container-runtime-endpoint=unix://${socket}`,
    '--network-plugin=cni',
    `--cni-conf-dir=${cniConfDir}`,
    `--cni-bin-dir=${cniBinDir}`,
  ]);
  const proxyConfig = await s.writeFile(
    'kube-proxy/config.json',
    JSON.stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: await s.kubeconfig('kube-proxy', s.certs.kubeProxy) },
      clusterCIDR: POD_CIDR,
      mode: 'ipvs', // no ip_vs here: falls back to iptables, as v1.13 does
      iptables: { masqueradeBit: 14, syncPeriod: '30s', minSyncPeriod: '1s' },
    }),
  );
  proxy = s.start('kube-proxy', [`--config=${proxyConfig}`]);
  await waitFor('kube-proxy healthz', async () => {
    alive();
    return (await s.probe({ url: 'http://127.0.0.1:10256/healthz' })).status === 200 ? true : undefined;
  }, 20_000);
  for (const ns of ['apps', 'kube-system']) {
    const r = await admin('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    assert.ok(r.status === 201 || r.status === 409, r.body);
  }
});

after(async () => {
  const dump = process.env['KPROV_E2E_DUMP'];
  if (dump) {
    const { writeFile } = await import('node:fs/promises');
    for (const p of [kubelet, proxy]) if (p) await writeFile(path.join(dump, `${p.label}.log`), p.output());
  }
  // The pods outlive the kubelet: their sandboxes are stopped and removed through CRI before
  // containerd goes, so no shim or mount is left behind.
  await kubelet?.stop();
  if (socket) {
    const cri = new CriClient(socket, 30_000);
    try {
      for (const sb of await cri.listPodSandbox()) {
        await cri.stopPodSandbox(sb.id).catch(() => undefined);
        await cri.removePodSandbox(sb.id).catch(() => undefined);
      }
    } catch {
      // containerd already gone: nothing to clean.
    } finally {
      cri.close();
    }
  }
  await s?.destroy();
});

const webPod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'apps', labels: { app: 'web' } },
  spec: {
    nodeName: 'n1',
    terminationGracePeriodSeconds: 2,
    volumes: [
      { name: 'cfg', configMap: { name: 'web-config', items: [{ key: 'greeting', path: 'greeting.txt' }] } },
      { name: 'sec', secret: { secretName: 'web-secret', defaultMode: 0o400 } },
      { name: 'scratch', emptyDir: {} },
    ],
    containers: [
      {
        name: 'web',
        image: WORKLOAD_IMAGE,
        command: ['sh', '-c'],
        args: [
          'cat /etc/cfg/greeting.txt; echo; cat /etc/sec/password; echo; stat -c "mode=%a" /etc/sec/..data/password; echo "web=$WEB_SERVICE_HOST:$WEB_SERVICE_PORT link=$WEB_PORT k8s=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT own=$OWN"; touch /etc/cfg/x 2>/dev/null || echo cfg-read-only; touch /scratch/x && echo scratch-writable; sleep 2; exec /serve',
        ],
        env: [{ name: 'OWN', value: 'via-$(WEB_SERVICE_HOST)' }],
        ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
        volumeMounts: [
          { name: 'cfg', mountPath: '/etc/cfg' },
          { name: 'sec', mountPath: '/etc/sec' },
          { name: 'scratch', mountPath: '/scratch' },
        ],
      },
    ],
  },
});

const ips: Record<string, string> = {};

test('the kubelet runs pods with configMap and secret volumes, service variables and a readiness probe', async () => {
  await create('/api/v1/namespaces/apps/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config' }, data: { greeting: 'hello from a config map' } });
  await create('/api/v1/namespaces/apps/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'web-secret' }, type: 'Opaque', data: { password: Buffer.from('s3cret').toString('base64') } });
  // The Service first, so the pods see its variables; no Endpoints yet.
  await create('/api/v1/namespaces/apps/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort', clusterIP: WEB_IP, selector: { app: 'web' }, ports: [{ protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }] } });
  for (const name of ['web-a', 'web-b']) await create('/api/v1/namespaces/apps/pods', webPod(name));
  for (const name of ['web-a', 'web-b']) {
    // Running but not Ready until the probe succeeds (the server starts 2 s after the container).
    const running = await waitFor(`${name} Running`, async () => {
      alive();
      const p = await pod('apps', name);
      return p.status.phase === 'Running' && p.status.podIP ? p : undefined;
    }, 90_000, 500);
    ips[name] = running.status.podIP!;
    const ready = await waitFor(`${name} Ready`, async () => {
      const p = await pod('apps', name);
      return p.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? p : undefined;
    }, 30_000, 500);
    assert.equal(ready.status.containerStatuses![0]!.ready, true);
    const log = await readFile(`/var/log/pods/${ready.metadata.uid}/web/0.log`, 'utf8');
    const lines = log.split('\n').map((l) => l.split(' ').slice(3).join(' '));
    assert.ok(lines.includes('hello from a config map'), log);
    assert.ok(lines.includes('s3cret'), log);
    assert.ok(lines.includes('mode=400'), log);
    assert.ok(lines.includes(`web=${WEB_IP}:80 link=tcp://${WEB_IP}:80 k8s=10.96.0.1:443 own=via-${WEB_IP}`), log);
    assert.ok(lines.includes('cfg-read-only') && lines.includes('scratch-writable'), log);
  }
  assert.match(ips['web-a']!, /^10\.244\.0\.\d+$/);
});

test('kube-proxy: REJECT without endpoints; ClusterIP and NodePort reach both pods; rules follow Endpoints and go with the Service', async () => {
  const rejected = await waitFor('REJECT rule for web', async () => {
    alive();
    const filter = (await sh('iptables-save', ['-t', 'filter'])).stdout;
    return filter.includes('"apps/web: has no endpoints"') ? filter : undefined;
  }, 20_000, 500);
  assert.match(rejected, /-A KUBE-SERVICES -d 10\.96\.0\.50\/32 -p tcp -m comment --comment "apps\/web: has no endpoints" -m tcp --dport 80 -j REJECT/);
  assert.match(rejected, /-A KUBE-EXTERNAL-SERVICES .*--dport 30080 -j REJECT/);
  assert.match(await curl(`http://${WEB_IP}/`), /^error 7: .*(refused|Couldn't connect)/);

  const endpoints = (names: string[]) => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web', namespace: 'apps' }, subsets: [{ addresses: names.map((n) => ({ ip: ips[n], nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'apps', name: n } })), ports: [{ port: 8080, protocol: 'TCP' }] }] });
  await create('/api/v1/namespaces/apps/endpoints', endpoints(['web-a', 'web-b']));
  const nat = await waitFor('two endpoint chains for web', async () => {
    alive();
    const t = await natRules();
    return (t.match(/-j DNAT --to-destination 10\.244\.0\.\d+:8080/g) ?? []).length === 2 ? t : undefined;
  }, 20_000, 300);
  assert.match(nat, /-A KUBE-SERVICES ! -s 10\.244\.0\.0\/24 -d 10\.96\.0\.50\/32 -p tcp -m comment --comment "apps\/web: cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ/);
  assert.match(nat, /-A KUBE-SVC-[A-Z2-7]{16} -m comment --comment "apps\/web:" -m statistic --mode random --probability 0\.50+ -j KUBE-SEP-[A-Z2-7]{16}/);
  assert.match(nat, /-A KUBE-NODEPORTS -p tcp -m comment --comment "apps\/web:" -m tcp --dport 30080 -j KUBE-SVC-/);
  assert.match(nat, /-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -m mark --mark 0x4000\/0x4000 -j MASQUERADE/);
  assert.match(nat, /-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES/);
  assert.match(nat, /-A KUBE-SVC-NPX46M4PTMTKRN6Y .* -j KUBE-SEP-/, 'default/kubernetes:https has v1.13\'s chain name');

  const seen = new Set<string>();
  for (let i = 0; i < 30 && seen.size < 2; i++) seen.add(await curl(`http://${WEB_IP}/`));
  assert.deepEqual([...seen].sort(), ['web-a', 'web-b']);
  const viaNodePort = new Set<string>();
  for (let i = 0; i < 30 && viaNodePort.size < 2; i++) viaNodePort.add(await curl(`http://${NODE_IP}:30080/`));
  assert.deepEqual([...viaNodePort].sort(), ['web-a', 'web-b']);

  const current = JSON.parse((await admin('GET', '/api/v1/namespaces/apps/endpoints/web')).body!) as { metadata: { resourceVersion: string } };
  const put = await admin('PUT', '/api/v1/namespaces/apps/endpoints/web', { ...endpoints(['web-a']), metadata: { name: 'web', namespace: 'apps', resourceVersion: current.metadata.resourceVersion } });
  assert.equal(put.status, 200, put.body);
  await waitFor('one endpoint chain for web', async () => ((await natRules()).match(/-j DNAT --to-destination 10\.244\.0\.\d+:8080/g) ?? []).length === 1 || undefined, 20_000, 300);
  for (let i = 0; i < 5; i++) assert.equal(await curl(`http://${WEB_IP}/`), 'web-a');

  assert.equal((await admin('DELETE', '/api/v1/namespaces/apps/services/web')).status, 200);
  const after = await waitFor('web rules removed', async () => {
    const t = await natRules();
    return t.includes('apps/web') ? undefined : t;
  }, 20_000, 300);
  assert.ok(!/KUBE-SEP-\S+ .*10\.244\.0\.\d+:8080/.test(after));
  assert.match(await curl(`http://${WEB_IP}/`), /^error/);
});

test('a failing liveness probe (exec through CRI) restarts the container', async () => {
  await create('/api/v1/namespaces/apps/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'flaky', namespace: 'apps' },
    spec: {
      nodeName: 'n1',
      terminationGracePeriodSeconds: 2,
      containers: [{ name: 'flaky', image: WORKLOAD_IMAGE, command: ['sh', '-c', 'touch /tmp/alive; sleep 3; rm /tmp/alive; exec sleep 3600'], livenessProbe: { exec: { command: ['cat', '/tmp/alive'] }, periodSeconds: 1, failureThreshold: 2 } }],
    },
  });
  const restarted = await waitFor('flaky restarted', async () => {
    alive();
    const p = await pod('apps', 'flaky');
    return (p.status.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? p : undefined;
  }, 60_000, 500);
  assert.ok(restarted.status.containerStatuses![0]!.restartCount >= 1);
  assert.match(kubelet.output(), /Liveness probe for "flaky_apps\(/);
});

const COREFILE = KUBESPRAY_COREFILE;

const dnsPod = (name: string, configMap: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'kube-system', labels: { 'k8s-app': name } },
  spec: {
    nodeName: 'n1',
    restartPolicy: name === 'coredns' ? 'Always' : 'Never',
    dnsPolicy: 'Default',
    serviceAccountName: 'coredns',
    terminationGracePeriodSeconds: 2,
    volumes: [
      { name: 'config-volume', configMap: { name: configMap, items: [{ key: 'Corefile', path: 'Corefile' }] } },
      // What the ServiceAccount admission plugin adds: the token secret at the well-known path.
      { name: 'coredns-token-x1y2z', secret: { secretName: 'coredns-token-x1y2z', defaultMode: 420 } },
    ],
    containers: [
      {
        name: 'coredns',
        image: COREDNS_IMAGE,
        args: ['-conf', '/etc/coredns/Corefile'],
        ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }, { name: 'metrics', containerPort: 9153, protocol: 'TCP' }],
        livenessProbe: { httpGet: { path: '/health', port: 8080, scheme: 'HTTP' }, initialDelaySeconds: 60, timeoutSeconds: 5, successThreshold: 1, failureThreshold: 5 },
        volumeMounts: [
          { name: 'config-volume', mountPath: '/etc/coredns' },
          { name: 'coredns-token-x1y2z', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
        ],
      },
    ],
  },
});

test('the coredns image answers service names through the kube-dns ClusterIP, forwards nothing, rejects a broken Corefile', async () => {
  await create('/api/v1/namespaces/apps/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { clusterIP: WEB_IP, ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] } });
  await create('/api/v1/namespaces/kube-system/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns' }, data: { Corefile: COREFILE } });
  await create('/api/v1/namespaces/kube-system/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns-broken' }, data: { Corefile: COREFILE.replace('loop\n', 'loop\n    bogus\n') } });
  await create('/api/v1/namespaces/kube-system/secrets', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'coredns-token-x1y2z', annotations: { 'kubernetes.io/service-account.name': 'coredns' } },
    type: 'kubernetes.io/service-account-token',
    data: { token: Buffer.from(DNS_TOKEN).toString('base64'), 'ca.crt': (await readFile(s.certs.ca.cert)).toString('base64'), namespace: Buffer.from('kube-system').toString('base64') },
  });
  await create('/api/v1/namespaces/kube-system/pods', dnsPod('coredns', 'coredns'));
  await create('/api/v1/namespaces/kube-system/pods', dnsPod('coredns-broken', 'coredns-broken'));
  const dns = await waitFor('coredns Running', async () => {
    alive();
    const p = await pod('kube-system', 'coredns');
    return p.status.phase === 'Running' && p.status.podIP ? p : undefined;
  }, 90_000, 500);
  await create('/api/v1/namespaces/kube-system/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', labels: { 'k8s-app': 'kube-dns' } }, spec: { clusterIP: DNS_IP, ports: [{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'dns-tcp', protocol: 'TCP', port: 53 }] } });
  await create('/api/v1/namespaces/kube-system/endpoints', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kube-dns' }, subsets: [{ addresses: [{ ip: dns.status.podIP }], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] }] });

  const answered = await waitFor('web.apps.svc.cluster.local through kube-dns', async () => {
    alive();
    const r = await nslookup('web.apps.svc.cluster.local');
    return r.code === 0 && r.out.includes(`Address: ${WEB_IP}`) ? r.out : undefined;
  }, 45_000, 1000);
  assert.match(answered, /Name:\s+web\.apps\.svc\.cluster\.local/);
  assert.match((await nslookup('kubernetes.default.svc.cluster.local')).out, /Address: 10\.96\.0\.1\b/);
  assert.match((await nslookup('nope.apps.svc.cluster.local')).out, /NXDOMAIN/);
  assert.match((await nslookup('example.com')).out, /SERVFAIL/);
  assert.equal((await s.probe({ url: `http://${dns.status.podIP!}:8080/health` })).body, 'OK');

  const broken = await waitFor('coredns-broken failed', async () => {
    const p = await pod('kube-system', 'coredns-broken');
    return p.status.phase === 'Failed' ? p : undefined;
  }, 60_000, 500);
  assert.equal(broken.status.containerStatuses![0]!.state['terminated']!['exitCode'], 1);
  const log = await readFile(`/var/log/pods/${broken.metadata.uid}/coredns/0.log`, 'utf8');
  assert.match(log, /\/etc\/coredns\/Corefile:13 - Error during parsing: Unknown directive 'bogus'/);
});
