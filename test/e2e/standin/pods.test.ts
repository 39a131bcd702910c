/**
 * Pods in the apiserver and scheduler stand-ins, on real etcd, read and written with the real
 * kubectl 1.20.2: defaulting, scheduling (taints, nodeSelector, unschedulable reasons), the Node
 * authorizer and NodeRestriction for kubelets (status of their own pods, mirror pods only),
 * watches with field selectors, graceful deletion finished by the node, eviction, and
 * `kubectl logs` proxied to a kubelet's /containerLogs with the apiserver's client certificate.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Scenario } from './support/scenario.js';
import { waitFor, type Proc } from './support/netns.js';
import type { CertFiles } from './support/pki.js';

let s: Scenario;
let scheduler: Proc;
const nodes: Record<string, CertFiles> = {};

interface PodJson {
  metadata: { name: string; uid: string; deletionTimestamp?: string; annotations?: Record<string, string> };
  spec: { nodeName?: string; restartPolicy: string; dnsPolicy: string; schedulerName: string; terminationGracePeriodSeconds: number; tolerations: Array<{ key?: string }>; containers: Array<{ imagePullPolicy: string }> };
  status: { phase: string; qosClass: string; podIP?: string; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

async function pod(name: string): Promise<PodJson | undefined> {
  const r = await s.api(s.certs.admin, 'GET', `/api/v1/namespaces/default/pods/${name}`);
  return r.status === 200 ? (JSON.parse(r.body!) as PodJson) : undefined;
}

async function registerNode(name: string, labels: Record<string, string>, taints: unknown[]): Promise<void> {
  const cert = await s.nodeCert(name);
  nodes[name] = cert;
  const created = await s.api(cert, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, spec: { taints } });
  assert.equal(created.status, 201, created.body);
  const status = {
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
    addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: name }],
    allocatable: { cpu: '2', memory: '2Gi', pods: '110' },
    capacity: { cpu: '2', memory: '2Gi', pods: '110' },
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
  };
  const r = await s.api(cert, 'PATCH', `/api/v1/nodes/${name}/status`, { status }, 'application/strategic-merge-patch+json');
  assert.equal(r.status, 200, r.body);
}

// A kubelet's /containerLogs, serving one pod's log to clients with a certificate from the cluster CA.
const FAKE_KUBELET = `
const https = require('node:https');
const fs = require('node:fs');
const [cert, key, ca] = process.argv.slice(1);
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), ca: fs.readFileSync(ca), requestCert: true, rejectUnauthorized: true }, (req, res) => {
  const who = req.socket.getPeerCertificate().subject.CN;
  if (req.url.startsWith('/containerLogs/default/talker/talker')) {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('hello from talker\\nclient=' + who + '\\nquery=' + (req.url.split('?')[1] || '') + '\\n');
  } else { res.writeHead(404); res.end('not found'); }
}).listen(10250, '127.0.0.1');
`;

before(async () => {
  s = await Scenario.create();
  await s.startEtcd();
  const kubeletClient = await s.pki.issue(s.certs.ca, 'apiserver-kubelet-client', { cn: 'kube-apiserver-kubelet-client', o: ['system:masters'], usage: 'client' });
  await s.startApiserver([`--kubelet-client-certificate=${kubeletClient.cert}`, `--kubelet-client-key=${kubeletClient.key}`, '--kubelet-preferred-address-types=InternalIP,Hostname', '--disable-admission-plugins=ServiceAccount']);
  await registerNode('n1', { 'node-role.kubernetes.io/master': '' }, [{ key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' }]);
  await registerNode('n2', { disk: 'ssd' }, []);
  scheduler = s.start('kube-scheduler', [`--kubeconfig=${await s.kubeconfig('scheduler', s.certs.scheduler)}`, '--leader-elect=false', '--address=127.0.0.1']);
});

after(async () => {
  await s?.destroy();
});

test('kubectl run: the pod is defaulted as v1.13 does, scheduled around the master taint, listed wide', async () => {
  const run = await s.kubectl(['run', 'web', '--image=docker.io/kprov/workload:1', '--restart=Never', '--labels=app=web']);
  assert.equal(run.code, 0, run.stderr);
  const bound = await waitFor('web bound', async () => {
    if (!scheduler.running) throw new Error(`scheduler exited:\n${scheduler.output()}`);
    const p = await pod('web');
    return p?.spec.nodeName ? p : undefined;
  }, 15_000);
  assert.equal(bound.spec.nodeName, 'n2', 'the master taint keeps the pod off n1');
  assert.equal(bound.spec.restartPolicy, 'Never');
  assert.equal(bound.spec.dnsPolicy, 'ClusterFirst');
  assert.equal(bound.spec.schedulerName, 'default-scheduler');
  assert.equal(bound.spec.terminationGracePeriodSeconds, 30);
  assert.equal(bound.spec.containers[0]!.imagePullPolicy, 'IfNotPresent');
  assert.deepEqual(bound.spec.tolerations.map((t) => t.key).sort(), ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']);
  assert.equal(bound.status.phase, 'Pending');
  assert.equal(bound.status.qosClass, 'BestEffort');
  assert.equal(bound.status.conditions?.find((c) => c.type === 'PodScheduled')?.status, 'True');

  // The kubelet of n2 reports it running; n1's kubelet may not touch it.
  const status = { phase: 'Running', podIP: '10.233.65.7', hostIP: '127.0.0.1', containerStatuses: [{ name: 'web', ready: true, restartCount: 0, image: 'docker.io/kprov/workload:1', imageID: '', state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }] };
  const foreign = await s.api(nodes.n1, 'PATCH', '/api/v1/namespaces/default/pods/web/status', { status }, 'application/strategic-merge-patch+json');
  assert.equal(foreign.status, 403);
  assert.match(JSON.parse(foreign.body!).message, /node "n1" can only update pod status for pods with spec.nodeName set to itself/);
  const own = await s.api(nodes.n2, 'PATCH', '/api/v1/namespaces/default/pods/web/status', { status }, 'application/strategic-merge-patch+json');
  assert.equal(own.status, 200, own.body);

  const wide = await s.kubectl(['get', 'pods', '-o', 'wide']);
  assert.equal(wide.code, 0, wide.stderr);
  const [header, row] = wide.stdout.trim().split('\n');
  assert.match(header!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/);
  assert.match(row!, /^web\s+1\/1\s+Running\s+0\s+\S+\s+10\.233\.65\.7\s+n2\s+<none>\s+<none>$/);
  const bySelector = await s.kubectl(['get', 'pods', '-l', 'app=web', '--field-selector', 'spec.nodeName=n2', '-o', 'name']);
  assert.equal(bySelector.stdout.trim(), 'pod/web');
  const none = await s.kubectl(['get', 'pods', '--field-selector', 'spec.nodeName=n1', '-o', 'name']);
  assert.equal(none.stdout.trim(), '');
});

test('nodeSelector and tolerations place a pod on the master; a pod that fits nowhere says why', async () => {
  const manifest = (name: string, spec: Record<string, unknown>) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'docker.io/kprov/workload:1' }], ...spec } });
  const dir = s.pki.dir;
  await writeFile(path.join(dir, 'on-master.json'), manifest('on-master', { nodeSelector: { 'node-role.kubernetes.io/master': '' }, tolerations: [{ key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' }] }));
  await writeFile(path.join(dir, 'nowhere.json'), manifest('nowhere', { nodeSelector: { disk: 'tape' } }));
  await writeFile(path.join(dir, 'too-big.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'too-big' }, spec: { containers: [{ name: 'c', image: 'docker.io/kprov/workload:1', resources: { requests: { cpu: '3' } } }] } }));
  for (const f of ['on-master', 'nowhere', 'too-big']) {
    // Client-side validation needs the OpenAPI document, which the stand-in does not serve.
    const r = await s.kubectl(['create', '--validate=false', '-f', path.join(dir, `${f}.json`)]);
    assert.equal(r.code, 0, r.stderr);
  }
  const onMaster = await waitFor('on-master bound', async () => (await pod('on-master'))?.spec.nodeName, 15_000);
  assert.equal(onMaster, 'n1');
  const why = await waitFor('nowhere marked unschedulable', async () => (await pod('nowhere'))?.status.conditions?.find((c) => c.reason === 'Unschedulable')?.message, 15_000);
  // v1.13 names each node's first failing predicate: the selector comes before the taint.
  assert.equal(why, "0/2 nodes are available: 2 node(s) didn't match node selector.");
  const tooBig = await waitFor('too-big marked unschedulable', async () => (await pod('too-big'))?.status.conditions?.find((c) => c.reason === 'Unschedulable')?.message, 15_000);
  assert.equal(tooBig, '0/2 nodes are available: 2 Insufficient cpu.');
  assert.equal((await pod('too-big'))?.status.qosClass, 'Burstable');
  const invalid = await s.api(s.certs.admin, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'bad' }, spec: { containers: [{ name: 'Bad_Name' }] } });
  assert.equal(invalid.status, 422);
  assert.match(JSON.parse(invalid.body!).message, /^Pod "bad" is invalid: \[spec\.containers\[0\]\.name: Invalid value: "Bad_Name".*, spec\.containers\[0\]\.image: Required value\]$/);
  for (const f of ['nowhere', 'too-big']) assert.equal((await s.kubectl(['delete', 'pod', f])).code, 0);
});

test('a node watches its pods by field selector and creates only mirror pods bound to itself', async () => {
  // A watch that starts now sees the pod arrive on n2 when it is bound: ADDED for that watcher.
  const watching = s.api(nodes.n2, 'GET', '/api/v1/pods?watch=1&fieldSelector=spec.nodeName%3Dn2&timeoutSeconds=3&resourceVersion=' + (await currentRv()));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await s.kubectl(['run', 'late', '--image=docker.io/kprov/workload:1', '--restart=Never', '--overrides={"apiVersion":"v1","spec":{"nodeSelector":{"disk":"ssd"}}}'])).code, 0);
  const events = (await watching).body!.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: PodJson });
  assert.deepEqual(events.filter((e) => e.object.metadata.name === 'late').map((e) => e.type).slice(0, 1), ['ADDED']);
  assert.equal(events.find((e) => e.object.metadata.name === 'late')?.object.spec.nodeName, 'n2');

  const plain = await s.api(nodes.n2, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'sneaky' }, spec: { nodeName: 'n2', containers: [{ name: 'c', image: 'x:1' }] } });
  assert.equal(plain.status, 403);
  assert.match(JSON.parse(plain.body!).message, /node "n2" can only create mirror pods/);
  const elsewhere = await s.api(nodes.n2, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'static-n1', annotations: { 'kubernetes.io/config.mirror': 'abc' } }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x:1' }] } });
  assert.equal(elsewhere.status, 403);
  const mirror = await s.api(nodes.n2, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'static-n2', annotations: { 'kubernetes.io/config.mirror': 'abc' } }, spec: { nodeName: 'n2', containers: [{ name: 'c', image: 'x:1' }] } });
  assert.equal(mirror.status, 201, mirror.body);
});

async function currentRv(): Promise<string> {
  const r = await s.api(s.certs.admin, 'GET', '/api/v1/pods');
  return (JSON.parse(r.body!) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
}

test('kubectl delete waits while the node stops the pod (Terminating), and returns when the node removes it', async () => {
  const before = (await pod('web'))!;
  const deleting = s.kubectl(['delete', 'pod', 'web', '--timeout=30s']);
  const marked = await waitFor('web marked for deletion', async () => (await pod('web'))?.metadata.deletionTimestamp, 15_000);
  assert.ok(Date.parse(marked) > Date.now(), 'deletionTimestamp is now + the grace period');
  const table = await s.kubectl(['get', 'pod', 'web', '--no-headers']);
  assert.match(table.stdout, /^web\s+\S+\s+Terminating\s/);
  // Another node may not finish it; a wrong uid precondition is a conflict; the owner node with grace 0 removes it.
  assert.equal((await s.api(nodes.n1, 'DELETE', '/api/v1/namespaces/default/pods/web', { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 })).status, 403);
  assert.equal((await s.api(nodes.n2, 'DELETE', '/api/v1/namespaces/default/pods/web', { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid: 'nope' } })).status, 409);
  const gone = await s.api(nodes.n2, 'DELETE', '/api/v1/namespaces/default/pods/web', { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid: before.metadata.uid } });
  assert.equal(gone.status, 200, gone.body);
  const done = await deleting;
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /pod "web" deleted/);
  assert.equal(await pod('web'), undefined);
});

test('eviction is a graceful deletion; an unbound or finished pod goes at once', async () => {
  const r = await s.api(s.certs.admin, 'POST', '/api/v1/namespaces/default/pods/late/eviction', { apiVersion: 'policy/v1beta1', kind: 'Eviction', metadata: { name: 'late' } });
  assert.equal(r.status, 201, r.body);
  assert.ok((await pod('late'))?.metadata.deletionTimestamp);
  assert.equal((await s.kubectl(['delete', 'pod', 'late', '--grace-period=0', '--force'])).code, 0);
  assert.equal(await pod('late'), undefined);
});

test('kubectl logs goes through the apiserver to the kubelet with the kubelet client certificate', async () => {
  const serving = await s.pki.issue(s.certs.ca, 'kubelet-serving-n2', { cn: 'n2', ip: ['127.0.0.1'], usage: 'server' });
  const kubelet = s.ns.spawn('fake-kubelet', process.execPath, ['-e', FAKE_KUBELET, serving.cert, serving.key, s.certs.ca.cert]);
  await waitFor('fake kubelet', async () => ((await s.probe({ url: 'https://127.0.0.1:10250/x' })).error === 'ECONNREFUSED' ? undefined : true), 10_000);
  assert.equal((await s.kubectl(['run', 'talker', '--image=docker.io/kprov/workload:1', '--restart=Never', '--overrides={"apiVersion":"v1","spec":{"nodeName":"n2"}}'])).code, 0);
  const logs = await s.kubectl(['logs', 'talker', '--tail=5']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /^hello from talker\nclient=kube-apiserver-kubelet-client\nquery=tailLines=5$/);
  const unbound = await s.api(s.certs.admin, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'floating' }, spec: { schedulerName: 'nobody', containers: [{ name: 'c', image: 'x:1' }] } });
  assert.equal(unbound.status, 201);
  const noHost = await s.kubectl(['logs', 'floating']);
  assert.notEqual(noHost.code, 0);
  assert.match(noHost.stderr, /pod floating does not have a host assigned/);
  await kubelet.stop();
});
