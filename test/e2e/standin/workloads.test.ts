/**
 * Applications on the apiserver and controller-manager stand-ins, on real etcd, driven by the real
 * kubectl 1.20.2: `create deployment`, `scale`, `expose --type=NodePort`, `get … -o wide/json`,
 * `rollout status`, a deleted pod replaced, CoreDNS-style manifests through `kubectl apply` (twice:
 * `unchanged`, no write), service IP and node port allocation, a service-account token that
 * authenticates and is held to RBAC, and `delete deployment` taking its ReplicaSet and pods along.
 * Pods are not run (no kubelet): the test writes their status as a node would, so endpoints appear.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Scenario } from './support/scenario.js';
import { waitFor, type Proc } from './support/netns.js';
import type { CertFiles } from './support/pki.js';

let s: Scenario;
let cm: Proc;
let n1: CertFiles;

interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  labels?: Record<string, string>;
  ownerReferences?: Array<{ kind: string; name: string; uid: string; controller?: boolean }>;
  deletionTimestamp?: string;
}
interface Item {
  metadata: Meta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  subsets?: Array<{ addresses?: Array<{ ip: string; targetRef?: { name: string } }>; notReadyAddresses?: unknown[]; ports?: Array<{ port: number }> }>;
  secrets?: Array<{ name: string }>;
  data?: Record<string, string>;
  type?: string;
}

async function get(path: string): Promise<Item | undefined> {
  const r = await s.api(s.certs.admin, 'GET', path);
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200, `${path}: ${r.body ?? r.error}`);
  return JSON.parse(r.body!) as Item;
}

async function list(path: string): Promise<Item[]> {
  return ((await get(path)) as unknown as { items: Item[] }).items;
}

async function kubectl(args: string[]): Promise<string> {
  const r = await s.kubectl(args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const appPods = async () => (await list('/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx-app')).filter((p) => !p.metadata.deletionTimestamp);

/** What a kubelet would report for a running, ready pod. */
async function markRunning(pod: Item, ip: string): Promise<void> {
  const status = {
    phase: 'Running',
    podIP: ip,
    hostIP: '127.0.0.1',
    conditions: [
      { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:00Z' },
      { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:00Z' },
    ],
  };
  const r = await s.api(s.certs.admin, 'PATCH', `/api/v1/namespaces/default/pods/${pod.metadata.name}/status`, { status }, 'application/strategic-merge-patch+json');
  assert.equal(r.status, 200, r.body);
}

let nextIp = 10;
async function markAllRunning(): Promise<void> {
  for (const p of await appPods()) if (!p.status?.podIP) await markRunning(p, `10.233.64.${nextIp++}`);
}

before(async () => {
  s = await Scenario.create();
  await s.startEtcd();
  await s.startApiserver(['--service-node-port-range=30000-32767']);
  cm = s.start('kube-controller-manager', [
    `--kubeconfig=${await s.kubeconfig('cm', s.certs.controllerManager)}`,
    '--address=127.0.0.1',
    '--leader-elect=false',
    '--controllers=*,bootstrapsigner,tokencleaner',
    `--root-ca-file=${s.certs.ca.cert}`,
    `--service-account-private-key-file=${s.certs.saKey}`,
    '--service-cluster-ip-range=10.96.0.0/12',
    '--use-service-account-credentials=true',
  ]);
  // The token controller gives every namespace's default ServiceAccount its token secret.
  await waitFor(
    'default/default token',
    async () => {
      if (!cm.running) throw new Error(`controller-manager exited:\n${cm.output()}`);
      const sa = await get('/api/v1/namespaces/default/serviceaccounts/default');
      return sa?.secrets?.length ? true : undefined;
    },
    20_000,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\ncontroller-manager:\n${cm.output().slice(-3000)}`);
  });
});

after(async () => {
  await s?.destroy();
});

test('discovery lists apps/v1 and rbac.authorization.k8s.io/v1 with the scale subresource', async () => {
  const groups = (await get('/apis')) as unknown as { groups: Array<{ name: string; preferredVersion: { groupVersion: string } }> };
  assert.deepEqual(groups.groups.map((g) => g.preferredVersion.groupVersion), ['apps/v1', 'authorization.k8s.io/v1', 'rbac.authorization.k8s.io/v1']);
  const apps = (await get('/apis/apps/v1')) as unknown as { resources: Array<{ name: string; group?: string; version?: string; kind: string }> };
  assert.deepEqual(apps.resources.find((r) => r.name === 'deployments/scale'), { name: 'deployments/scale', singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
});

test('create, scale, expose: a ReplicaSet with the template hash, two pods with the token mounted, NodePort and ClusterIP allocated, two endpoints', async () => {
  assert.match(await kubectl(['create', 'deployment', 'nginx-app', '--image=docker.io/kprov/workload:1', '--port=80']), /deployment.apps\/nginx-app created/);
  const deploy = (await get('/apis/apps/v1/namespaces/default/deployments/nginx-app'))!;
  assert.deepEqual(deploy.spec?.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  assert.equal(deploy.spec?.revisionHistoryLimit, 10);
  assert.equal(deploy.spec?.progressDeadlineSeconds, 600);
  const first = await waitFor('one pod', async () => ((await appPods()).length === 1 ? (await appPods())[0] : undefined), 20_000);
  const rs = (await list('/apis/apps/v1/namespaces/default/replicasets'))[0]!;
  const hash = rs.metadata.labels?.['pod-template-hash'];
  assert.ok(hash);
  assert.equal(rs.metadata.name, `nginx-app-${hash}`);
  assert.equal(rs.metadata.ownerReferences?.[0]?.uid, deploy.metadata.uid);
  assert.match(first.metadata.name, new RegExp(`^nginx-app-${hash}-[a-z0-9]{5}$`));
  assert.equal(first.metadata.ownerReferences?.[0]?.name, rs.metadata.name);
  const spec = first.spec as { serviceAccountName: string; volumes: Array<{ name: string; secret?: { secretName: string } }>; containers: Array<{ volumeMounts: Array<{ mountPath: string; readOnly: boolean }> }> };
  assert.equal(spec.serviceAccountName, 'default');
  assert.match(spec.volumes[0]!.secret!.secretName, /^default-token-[a-z0-9]{5}$/);
  assert.deepEqual(spec.containers[0]!.volumeMounts[0], { name: spec.volumes[0]!.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' });

  assert.match(await kubectl(['scale', 'deploy', 'nginx-app', '--replicas=2']), /scaled/);
  const scale = (await get('/apis/apps/v1/namespaces/default/deployments/nginx-app/scale')) as unknown as { apiVersion: string; spec: { replicas: number } };
  assert.equal(scale.apiVersion, 'autoscaling/v1');
  assert.equal(scale.spec.replicas, 2);
  await waitFor('two pods', async () => ((await appPods()).length === 2 ? true : undefined), 20_000);
  await markAllRunning();

  assert.match(await kubectl(['expose', 'deployment', 'nginx-app', '--type=NodePort', '--port=80']), /service\/nginx-app exposed/);
  const svc = (await get('/api/v1/namespaces/default/services/nginx-app'))!;
  const svcSpec = svc.spec as { clusterIP: string; ports: Array<{ nodePort: number; targetPort: number; protocol: string }> };
  assert.match(svcSpec.clusterIP, /^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/);
  assert.notEqual(svcSpec.clusterIP, '10.96.0.1');
  assert.ok(svcSpec.ports[0]!.nodePort >= 30000 && svcSpec.ports[0]!.nodePort <= 32767, String(svcSpec.ports[0]!.nodePort));
  assert.equal(svcSpec.ports[0]!.protocol, 'TCP');
  const ep = await waitFor('two endpoints', async () => {
    const e = await get('/api/v1/namespaces/default/endpoints/nginx-app');
    return e?.subsets?.[0]?.addresses?.length === 2 ? e : undefined;
  }, 20_000);
  assert.deepEqual(ep.subsets![0]!.ports, [{ port: 80, protocol: 'TCP' }]);

  const wide = await kubectl(['get', 'deploy,rs,svc,ep,pods', '-o', 'wide']);
  assert.match(wide, /deployment\.apps\/nginx-app\s+2\/2\s+2\s+2\s+\S+\s+workload\s+docker\.io\/kprov\/workload:1\s+app=nginx-app/);
  assert.match(wide, new RegExp(`service/nginx-app\\s+NodePort\\s+${svcSpec.clusterIP.replace(/\./g, '\\.')}\\s+<none>\\s+80:${svcSpec.ports[0]!.nodePort}/TCP`));
  assert.match(wide, /endpoints\/nginx-app\s+10\.233\.64\.\d+:80,10\.233\.64\.\d+:80/);
  const json = JSON.parse(await kubectl(['get', 'deploy,rs,svc,ep,pods', '-o', 'json'])) as { items: Item[] };
  assert.equal(json.items.filter((i) => (i as unknown as { kind: string }).kind === 'Pod').length, 2);
  assert.match(await kubectl(['rollout', 'status', 'deployment/nginx-app', '--timeout=20s']), /successfully rolled out/);
  const described = await kubectl(['describe', 'deployment', 'nginx-app']);
  assert.match(described, /Replicas:\s+2 desired \| 2 updated \| 2 total \| 2 available \| 0 unavailable/);
  assert.match(described, /NewReplicaSet:\s+nginx-app-\w+ \(2\/2 replicas created\)/);
  assert.match(await kubectl(['describe', 'service', 'nginx-app']), /Endpoints:\s+10\.233\.64\.\d+:80,10\.233\.64\.\d+:80/);
  const all = await kubectl(['get', 'all']);
  for (const what of ['pod/nginx-app-', 'service/kubernetes', 'service/nginx-app', 'deployment.apps/nginx-app', 'replicaset.apps/nginx-app-']) assert.ok(all.includes(what), all);
});

test('a deleted pod is replaced; a second service cannot take an allocated or out-of-range IP', async () => {
  const before = await appPods();
  const victim = before[0]!.metadata.name;
  await kubectl(['delete', 'pod', victim]);
  const replaced = await waitFor('a replacement pod', async () => {
    const now = await appPods();
    return now.length === 2 && !now.some((p) => p.metadata.name === victim) ? now : undefined;
  }, 20_000);
  assert.ok(replaced.some((p) => !before.some((b) => b.metadata.name === p.metadata.name)));
  await markAllRunning();
  await waitFor('endpoints follow', async () => {
    const e = await get('/api/v1/namespaces/default/endpoints/nginx-app');
    const names = (e?.subsets?.[0]?.addresses ?? []).map((a) => a.targetRef?.name).sort();
    return JSON.stringify(names) === JSON.stringify(replaced.map((p) => p.metadata.name).sort()) ? true : undefined;
  }, 20_000);

  const svcIP = ((await get('/api/v1/namespaces/default/services/nginx-app'))!.spec as { clusterIP: string }).clusterIP;
  const taken = await s.api(s.certs.admin, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'dup' }, spec: { clusterIP: svcIP, ports: [{ port: 1 }] } });
  assert.equal(taken.status, 422);
  assert.match(JSON.parse(taken.body!).message, /spec\.clusterIP: Invalid value: "[\d.]+": provided IP is already allocated/);
  const outside = await s.api(s.certs.admin, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'far' }, spec: { clusterIP: '192.168.0.1', ports: [{ port: 1 }] } });
  assert.equal(outside.status, 422);
  assert.match(JSON.parse(outside.body!).message, /provided IP is not in the valid range. The range of valid IPs is 10.96.0.0\/12/);
  const bad = await s.api(s.certs.admin, 'POST', '/apis/apps/v1/namespaces/default/deployments', { metadata: { name: 'bad' }, spec: { selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } } } });
  assert.equal(bad.status, 422);
  assert.match(JSON.parse(bad.body!).message, /Deployment.apps "bad" is invalid: spec.template.metadata.labels: Invalid value: .*`selector` does not match template `labels`/);
});

test('a new template rolls out: a second ReplicaSet grows as its pods become available while the first shrinks to 0', async () => {
  const first = (await list('/apis/apps/v1/namespaces/default/replicasets'))[0]!;
  await kubectl(['set', 'image', 'deployment/nginx-app', 'workload=docker.io/kprov/workload:2']);
  const done = await waitFor('rollout to workload:2', async () => {
    await markAllRunning();
    const d = (await get('/apis/apps/v1/namespaces/default/deployments/nginx-app'))!;
    const st = d.status as { observedGeneration?: number; updatedReplicas?: number; availableReplicas?: number; replicas?: number };
    const gen = (d.metadata as unknown as { generation: number }).generation;
    return st.observedGeneration === gen && st.updatedReplicas === 2 && st.availableReplicas === 2 && st.replicas === 2 ? d : undefined;
  }, 30_000);
  assert.equal((done.metadata as unknown as { annotations: Record<string, string> }).annotations['deployment.kubernetes.io/revision'], '2');
  const sets = await list('/apis/apps/v1/namespaces/default/replicasets');
  assert.equal(sets.length, 2);
  assert.equal((sets.find((r) => r.metadata.name === first.metadata.name)!.spec as { replicas: number }).replicas, 0);
  const images = (await appPods()).map((p) => ((p.spec as { containers: Array<{ image: string }> }).containers[0]!.image));
  assert.deepEqual(images, ['docker.io/kprov/workload:2', 'docker.io/kprov/workload:2']);
  assert.match(await kubectl(['rollout', 'status', 'deployment/nginx-app', '--timeout=20s']), /successfully rolled out/);

  // kubectl rollout undo patches the old template back: the first ReplicaSet becomes revision 3.
  assert.match(await kubectl(['rollout', 'undo', 'deployment/nginx-app']), /rolled back/);
  await waitFor('rolled back to workload:1', async () => {
    await markAllRunning();
    const back = (await list('/apis/apps/v1/namespaces/default/replicasets')).find((r) => r.metadata.name === first.metadata.name)!;
    const pods = await appPods();
    const ok = (back.status as { availableReplicas?: number }).availableReplicas === 2 && pods.length === 2 && pods.every((p) => (p.spec as { containers: Array<{ image: string }> }).containers[0]!.image.endsWith(':1'));
    return ok ? true : undefined;
  }, 30_000);
  assert.match(await kubectl(['rollout', 'status', 'deployment/nginx-app', '--timeout=20s']), /successfully rolled out/);
  assert.match(await kubectl(['rollout', 'history', 'deployment/nginx-app']), /^2\s+<none>\s*\n3\s+<none>/m);
});

const COREDNS = [
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'system:coredns', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
    rules: [
      { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
    ],
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'system:coredns' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
    subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
  },
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: 'kube-system' }, data: { Corefile: '.:53 {\n    errors\n    health\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n      pods insecure\n    }\n    forward . /etc/resolv.conf\n    cache 30\n}\n' } },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
    spec: {
      replicas: 2,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      selector: { matchLabels: { 'k8s-app': 'kube-dns' } },
      template: {
        metadata: { labels: { 'k8s-app': 'kube-dns' } },
        spec: {
          serviceAccountName: 'coredns',
          tolerations: [{ key: 'CriticalAddonsOnly', operator: 'Exists' }],
          containers: [
            {
              name: 'coredns',
              image: 'docker.io/coredns/coredns:1.2.6',
              imagePullPolicy: 'IfNotPresent',
              resources: { limits: { memory: '170Mi' }, requests: { cpu: '100m', memory: '70Mi' } },
              args: ['-conf', '/etc/coredns/Corefile'],
              volumeMounts: [{ name: 'config-volume', mountPath: '/etc/coredns', readOnly: true }],
              ports: [
                { containerPort: 53, name: 'dns', protocol: 'UDP' },
                { containerPort: 53, name: 'dns-tcp', protocol: 'TCP' },
              ],
            },
          ],
          dnsPolicy: 'Default',
          volumes: [{ name: 'config-volume', configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }] } }],
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' } },
    spec: {
      selector: { 'k8s-app': 'kube-dns' },
      clusterIP: '10.96.0.10',
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ],
    },
  },
];

test('kubectl apply of CoreDNS-style manifests creates them; applied again they are unchanged and not written', async () => {
  const file = await s.writeFile('coredns.json', JSON.stringify({ apiVersion: 'v1', kind: 'List', items: COREDNS }));
  const created = await kubectl(['apply', '--validate=false', '-f', file]);
  for (const what of ['serviceaccount/coredns', 'clusterrole.rbac.authorization.k8s.io/system:coredns', 'clusterrolebinding.rbac.authorization.k8s.io/system:coredns', 'configmap/coredns', 'deployment.apps/coredns', 'service/kube-dns']) {
    assert.match(created, new RegExp(`${what.replace(/\./g, '\\.')} created`));
  }
  const paths = [
    '/api/v1/namespaces/kube-system/serviceaccounts/coredns',
    '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:coredns',
    '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:coredns',
    '/api/v1/namespaces/kube-system/configmaps/coredns',
    '/apis/apps/v1/namespaces/kube-system/deployments/coredns',
    '/api/v1/namespaces/kube-system/services/kube-dns',
  ];
  // Let the controllers settle (token secret on the SA, deployment status), then compare.
  await waitFor('coredns token', async () => ((await get(paths[0]!))?.secrets?.length ? true : undefined), 20_000);
  await waitFor('coredns rolled out', async () => ((await get(paths[4]!))?.status?.updatedReplicas === 2 ? true : undefined), 20_000);
  await new Promise((r) => setTimeout(r, 1500));
  const versions = await Promise.all(paths.map(async (p) => (await get(p))!.metadata.resourceVersion));
  const again = await kubectl(['apply', '--validate=false', '-f', file]);
  assert.equal((again.match(/ unchanged/g) ?? []).length, 6, again);
  const after = await Promise.all(paths.map(async (p) => (await get(p))!.metadata.resourceVersion));
  // The SA and the deployment are also written by controllers; the others must not have moved.
  assert.deepEqual([after[1], after[2], after[3], after[5]], [versions[1], versions[2], versions[3], versions[5]]);
  const svc = (await get(paths[5]!))!.spec as { clusterIP: string; ports: Array<{ targetPort: number; nodePort?: number }> };
  assert.equal(svc.clusterIP, '10.96.0.10');
  assert.deepEqual(svc.ports.map((p) => p.targetPort), [53, 53]);
  const listing = await kubectl(['get', 'sa,secrets,cm', '-n', 'kube-system']);
  assert.match(listing, /serviceaccount\/coredns\s+1\s+/);
  assert.match(listing, /secret\/coredns-token-[a-z0-9]{5}\s+kubernetes\.io\/service-account-token\s+3\s+/);
  assert.match(listing, /configmap\/coredns\s+1\s+/);
  const pod = (await list('/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns'))[0]!;
  assert.equal((pod.spec as { serviceAccountName: string }).serviceAccountName, 'coredns');
});

test('the Node authorizer lets a kubelet get the secrets and configmaps of pods bound to it, and nothing else of them', async () => {
  n1 = await s.nodeCert('n1');
  assert.equal((await s.api(n1, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } })).status, 201);
  const target = (await appPods())[0]!;
  const bind = await s.api(s.certs.admin, 'POST', `/api/v1/namespaces/default/pods/${target.metadata.name}/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: target.metadata.name }, target: { apiVersion: 'v1', kind: 'Node', name: 'n1' } });
  assert.equal(bind.status, 201, bind.body);
  const token = (target.spec as { volumes: Array<{ secret?: { secretName: string } }> }).volumes.find((v) => v.secret)!.secret!.secretName;
  assert.equal((await s.api(n1, 'GET', `/api/v1/namespaces/default/secrets/${token}`)).status, 200);
  const list = await s.api(n1, 'GET', '/api/v1/namespaces/default/secrets');
  assert.equal(list.status, 403);
  const coredns = await s.api(n1, 'GET', '/api/v1/namespaces/kube-system/configmaps/coredns');
  assert.equal(coredns.status, 403);
  assert.equal(JSON.parse(coredns.body!).message, 'configmaps "coredns" is forbidden: User "system:node:n1" cannot get resource "configmaps" in API group "" in the namespace "kube-system"');
});

test('a service-account token authenticates as system:serviceaccount:<ns>:<name> and RBAC decides by its bindings', async () => {
  const sa = (await get('/api/v1/namespaces/kube-system/serviceaccounts/coredns'))!;
  const secret = (await get(`/api/v1/namespaces/kube-system/secrets/${sa.secrets![0]!.name}`))!;
  assert.equal(secret.type, 'kubernetes.io/service-account-token');
  assert.equal(Buffer.from(secret.data!.namespace!, 'base64').toString(), 'kube-system');
  assert.match(Buffer.from(secret.data!['ca.crt']!, 'base64').toString(), /BEGIN CERTIFICATE/);
  const token = Buffer.from(secret.data!.token!, 'base64').toString();
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, string>;
  assert.equal(claims.iss, 'kubernetes/serviceaccount');
  assert.equal(claims.sub, 'system:serviceaccount:kube-system:coredns');
  assert.equal(claims['kubernetes.io/serviceaccount/service-account.uid'], sa.metadata.uid);
  const as = (path: string, method = 'GET') => s.probe({ url: `${s.server}${path}`, method, ca: s.certs.ca.cert, bearer: token });
  assert.equal((await as('/api/v1/endpoints')).status, 200);
  assert.equal((await as('/api/v1/namespaces/default/services')).status, 200);
  const secrets = await as('/api/v1/namespaces/kube-system/secrets');
  assert.equal(secrets.status, 403);
  assert.equal(JSON.parse(secrets.body!).message, 'secrets is forbidden: User "system:serviceaccount:kube-system:coredns" cannot list resource "secrets" in API group "" in the namespace "kube-system"');
  const deployments = await as('/apis/apps/v1/namespaces/default/deployments');
  assert.equal(deployments.status, 403);
  assert.match(JSON.parse(deployments.body!).message, /^deployments\.apps is forbidden: .* cannot list resource "deployments" in API group "apps" in the namespace "default"$/);
  assert.equal((await as('/api/v1/nodes/none')).status, 404);
  assert.equal((await as('/api/v1/nodes')).status, 403);

  // A RoleBinding in one namespace grants there only.
  const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'deploy-reader', namespace: 'default' }, rules: [{ apiGroups: ['apps'], resources: ['deployments', 'deployments/scale'], verbs: ['get', 'list'] }] };
  const binding = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'coredns-reads', namespace: 'default' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'deploy-reader' }, subjects: [{ kind: 'Group', name: 'system:serviceaccounts:kube-system' }] };
  assert.equal((await s.api(s.certs.admin, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles', role)).status, 201);
  assert.equal((await s.api(s.certs.admin, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings', binding)).status, 201);
  assert.equal((await as('/apis/apps/v1/namespaces/default/deployments')).status, 200);
  assert.equal((await as('/apis/apps/v1/namespaces/default/deployments/nginx-app/scale')).status, 200);
  assert.equal((await as('/apis/apps/v1/namespaces/kube-system/deployments')).status, 403);
  assert.equal((await as('/apis/apps/v1/namespaces/default/deployments/nginx-app', 'DELETE')).status, 403);

  // kubectl auth can-i, impersonating the account (SelfSubjectAccessReview, Impersonate-User).
  const can = (args: string[]) => s.kubectl(['auth', 'can-i', ...args, '--as=system:serviceaccount:kube-system:coredns']);
  assert.equal((await can(['list', 'endpoints', '--all-namespaces'])).stdout.trim(), 'yes');
  assert.equal((await can(['list', 'secrets', '-n', 'kube-system'])).stdout.trim(), 'no');
  assert.equal((await can(['get', 'deployments.apps', '-n', 'default'])).stdout.trim(), 'yes');
  assert.equal((await can(['delete', 'deployments.apps', '-n', 'default'])).stdout.trim(), 'no');
  const asCoredns = await s.kubectl(['get', 'secrets', '-n', 'kube-system', '--as=system:serviceaccount:kube-system:coredns']);
  assert.notEqual(asCoredns.code, 0);
  assert.match(asCoredns.stderr, /secrets is forbidden: User "system:serviceaccount:kube-system:coredns" cannot list resource "secrets" in API group "" in the namespace "kube-system"/);
  // An account may not impersonate anyone.
  const sneaky = await s.probe({ url: `${s.server}/api/v1/nodes`, ca: s.certs.ca.cert, bearer: token, impersonate: 'kubernetes-admin' });
  assert.equal(sneaky.status, 403);
  assert.match(JSON.parse(sneaky.body!).message, /users "kubernetes-admin" is forbidden: User "system:serviceaccount:kube-system:coredns" cannot impersonate resource "users"/);

  // The stored bootstrap cluster-admin role, bound to another account, lets it do anything.
  const dflt = (await get('/api/v1/namespaces/default/serviceaccounts/default'))!;
  const dfltToken = Buffer.from((await get(`/api/v1/namespaces/default/secrets/${dflt.secrets![0]!.name}`))!.data!.token!, 'base64').toString();
  const asDefault = (path: string) => s.probe({ url: `${s.server}${path}`, ca: s.certs.ca.cert, bearer: dfltToken });
  assert.equal((await asDefault('/api/v1/nodes')).status, 403);
  await kubectl(['create', 'clusterrolebinding', 'default-admin', '--clusterrole=cluster-admin', '--serviceaccount=default:default']);
  assert.equal((await asDefault('/api/v1/nodes')).status, 200);
  assert.equal((await asDefault('/apis/rbac.authorization.k8s.io/v1/clusterroles')).status, 200);

  // --service-account-lookup: a token whose secret is gone no longer authenticates.
  const forged = `${token.split('.').slice(0, 2).join('.')}.${Buffer.from('nope').toString('base64url')}`;
  assert.equal((await s.probe({ url: `${s.server}/api/v1/endpoints`, ca: s.certs.ca.cert, bearer: forged })).status, 401);
  assert.equal((await s.api(s.certs.admin, 'DELETE', `/api/v1/namespaces/kube-system/secrets/${secret.metadata.name}`)).status, 200);
  assert.equal((await as('/api/v1/endpoints')).status, 401);
});

test('two apiservers creating services at once never hand out the same cluster IP or node port; deletion gives them back', async () => {
  const b = s.start('kube-apiserver', s.apiserverArgs(['--secure-port=6444']), 'apiserver-b');
  await waitFor('second apiserver', async () => {
    if (!b.running) throw new Error(`apiserver-b exited:\n${b.output()}`);
    return (await s.probe({ url: 'https://127.0.0.1:6444/healthz', ca: s.certs.ca.cert })).status === 200 ? true : undefined;
  }, 15_000);
  const create = (server: string, i: number) =>
    s.probe({ url: `${server}/api/v1/namespaces/default/services`, method: 'POST', ca: s.certs.ca.cert, cert: s.certs.admin.cert, key: s.certs.admin.key, body: { metadata: { name: `race-${i}` }, spec: { type: 'NodePort', selector: { app: 'none' }, ports: [{ port: 80 }] } } });
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => create(i % 2 === 0 ? s.server : 'https://127.0.0.1:6444', i)));
  const specs = results.map((r) => {
    assert.equal(r.status, 201, r.body ?? r.error);
    return (JSON.parse(r.body!) as { spec: { clusterIP: string; ports: Array<{ nodePort: number }> } }).spec;
  });
  assert.equal(new Set(specs.map((x) => x.clusterIP)).size, 12);
  assert.equal(new Set(specs.map((x) => x.ports[0]!.nodePort)).size, 12);
  const freed = specs[3]!;
  assert.equal((await s.api(s.certs.admin, 'DELETE', '/api/v1/namespaces/default/services/race-3')).status, 200);
  const again = await s.api(s.certs.admin, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'reuse' }, spec: { type: 'NodePort', clusterIP: freed.clusterIP, ports: [{ port: 80, nodePort: freed.ports[0]!.nodePort }] } });
  assert.equal(again.status, 201, again.body);
  const clash = await s.api(s.certs.admin, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'clash' }, spec: { type: 'NodePort', ports: [{ port: 80, nodePort: specs[4]!.ports[0]!.nodePort }] } });
  assert.equal(clash.status, 422);
  assert.match(JSON.parse(clash.body!).message, /spec.ports\[0\].nodePort: Invalid value: \d+: provided port is already allocated/);
  const immutable = await s.api(s.certs.admin, 'PATCH', '/api/v1/namespaces/default/services/reuse', { spec: { clusterIP: specs[5]!.clusterIP } }, 'application/merge-patch+json');
  assert.equal(immutable.status, 422);
  assert.match(JSON.parse(immutable.body!).message, /spec.clusterIP: Invalid value: "[\d.]+": field is immutable/);
  await b.stop();
});

test('kubectl delete deployment removes its ReplicaSet and pods (garbage collector, background)', async () => {
  await kubectl(['delete', 'deployment', 'nginx-app']);
  await waitFor('replicasets gone', async () => ((await list('/apis/apps/v1/namespaces/default/replicasets')).length === 0 ? true : undefined), 30_000);
  // The pod bound to n1 waits for its kubelet (graceful deletion): the test finishes it as n1 would.
  await waitFor('pods gone', async () => {
    const left = await list('/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx-app');
    for (const p of left.filter((x) => x.metadata.deletionTimestamp)) {
      await s.api(n1, 'DELETE', `/api/v1/namespaces/default/pods/${p.metadata.name}`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } });
    }
    return left.length === 0 ? true : undefined;
  }, 30_000);
  assert.equal(cm.running, true);
});

test('kubectl delete --cascade=orphan leaves the ReplicaSet and its pods, without the ownerReference; the deployment made again adopts them', async () => {
  await kubectl(['create', 'deployment', 'orph', '--image=docker.io/kprov/workload:1']);
  const rs = await waitFor('orph replicaset', async () => (await list('/apis/apps/v1/namespaces/default/replicasets'))[0], 20_000);
  await waitFor('orph pod', async () => ((await list('/api/v1/namespaces/default/pods?labelSelector=app%3Dorph')).length === 1 ? true : undefined), 20_000);
  await kubectl(['delete', 'deployment', 'orph', '--cascade=orphan']);
  // Longer than a controller round: the garbage collector must leave it alone.
  await new Promise((r) => setTimeout(r, 3000));
  const left = await get(`/apis/apps/v1/namespaces/default/replicasets/${rs.metadata.name}`);
  assert.ok(left, 'the ReplicaSet is still there');
  assert.equal(left.metadata.ownerReferences, undefined);
  assert.equal((await list('/api/v1/namespaces/default/pods?labelSelector=app%3Dorph')).length, 1);
  // The same deployment again adopts the orphaned ReplicaSet (same template): no second one, no new pod.
  await kubectl(['create', 'deployment', 'orph', '--image=docker.io/kprov/workload:1']);
  const d = (await get('/apis/apps/v1/namespaces/default/deployments/orph'))!;
  await waitFor('orph adopted', async () => ((await get(`/apis/apps/v1/namespaces/default/replicasets/${rs.metadata.name}`))?.metadata.ownerReferences?.[0]?.uid === d.metadata.uid ? true : undefined), 20_000);
  assert.equal((await list('/apis/apps/v1/namespaces/default/replicasets')).length, 1);
  assert.equal((await list('/api/v1/namespaces/default/pods?labelSelector=app%3Dorph')).length, 1);
  await kubectl(['delete', 'deployment', 'orph']);
  await waitFor('orph pods gone', async () => ((await list('/api/v1/namespaces/default/pods?labelSelector=app%3Dorph')).length === 0 ? true : undefined), 20_000);
});
