/** The stand-in kubelet's pod logic that needs no runtime: status, patches, back-off, logs, static pods, CRI configs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { Backoff, goSeconds } from '../../../dev/standin/kubelet/backoff.js';
import { renderLog, parseCriLogLine } from '../../../dev/standin/kubelet/container-logs.js';
import { CRI_PROTO } from '../../../dev/standin/kubelet/cri-api.js';
import type { ContainerStatus } from '../../../dev/standin/kubelet/cri-client.js';
import { defaultPullPolicy, podSchema, toPod } from '../../../dev/standin/kubelet/pod-spec.js';
import { podStatus, sameJson, statusPatch } from '../../../dev/standin/kubelet/pod-status.js';
import { cgroupParent, containerConfig, dnsConfigFor, expandVars, sandboxConfig, type RuntimeSettings } from '../../../dev/standin/kubelet/runtime-config.js';
import { mirrorPodObject, StaticPodSource } from '../../../dev/standin/kubelet/static-pods.js';
import { klog } from '../../../dev/standin/common/klog.js';

const pod = (spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) =>
  toPod(podSchema.parse({ metadata: { name: 'web', namespace: 'apps', uid: 'u-1', ...meta }, spec: { containers: [{ name: 'c', image: 'docker.io/kprov/workload:1' }], ...spec } }), 'u-1');

const settings: RuntimeSettings = { nodeName: 'node1', clusterDNS: ['10.233.0.3'], clusterDomain: 'cluster.local', resolvConf: '', cgroupDriver: 'systemd', cgroupsPerQOS: true };

function cs(over: Partial<ContainerStatus>): ContainerStatus {
  return {
    id: 'abc',
    metadata: { name: 'c', attempt: 0 },
    state: 'CONTAINER_RUNNING',
    createdAt: '1700000000000000000',
    startedAt: '1700000001000000000',
    finishedAt: '0',
    exitCode: 0,
    image: { image: 'docker.io/kprov/workload:1' },
    imageRef: 'docker.io/kprov/workload@sha256:00',
    reason: '',
    message: '',
    labels: {},
    annotations: { 'io.kubernetes.container.restartCount': '0' },
    logPath: '/var/log/pods/u-1/c/0.log',
    ...over,
  };
}

test('the CRI API subset parses and keeps upstream field numbers', () => {
  const root = protobuf.parse(CRI_PROTO).root;
  const fields = (t: string) => Object.fromEntries(Object.values(root.lookupType(`runtime.v1alpha2.${t}`).fields).map((f) => [f.name, f.id]));
  assert.deepEqual(fields('RunPodSandboxRequest'), { config: 1, runtimeHandler: 2 });
  assert.equal(fields('PodSandboxConfig')['logDirectory'], 3);
  assert.equal(fields('PodSandboxConfig')['linux'], 8);
  assert.equal(fields('ContainerConfig')['logPath'], 11);
  assert.equal(fields('ContainerConfig')['linux'], 15);
  assert.equal(fields('ContainerStatus')['logPath'], 15);
  assert.equal(fields('LinuxContainerSecurityContext')['namespaceOptions'], 3);
  assert.equal(fields('StopContainerRequest')['timeout'], 2);
});

test('status: Running with v1.13 conditions, containerd IDs, the pod IP; phases by restartPolicy', () => {
  const now = new Date('2024-01-01T00:00:10Z');
  const s = podStatus({ pod: pod(), hostIP: '10.0.0.1', podIP: '10.233.64.5', containers: [{ name: 'c', image: 'x', latest: cs({}) }], current: undefined, runtimeName: 'containerd', now });
  assert.equal(s['phase'], 'Running');
  assert.equal(s['podIP'], '10.233.64.5');
  assert.equal(s['qosClass'], 'BestEffort');
  const conds = s['conditions'] as Array<{ type: string; status: string; lastTransitionTime: string }>;
  assert.deepEqual(conds.map((c) => `${c.type}=${c.status}`), ['Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True']);
  const c0 = (s['containerStatuses'] as Array<Record<string, unknown>>)[0]!;
  assert.equal(c0['containerID'], 'containerd://abc');
  assert.deepEqual(c0['state'], { running: { startedAt: '2023-11-14T22:13:21Z' } });
  // Times carry over: the same status again is equal to what the API holds.
  const again = podStatus({ pod: pod(), hostIP: '10.0.0.1', podIP: '10.233.64.5', containers: [{ name: 'c', image: 'x', latest: cs({}) }], current: s, runtimeName: 'containerd', now: new Date('2024-01-01T00:05:00Z') });
  assert.ok(sameJson(again, s));

  const exited = (code: number) => [{ name: 'c', image: 'x', latest: cs({ state: 'CONTAINER_EXITED', exitCode: code, finishedAt: '1700000002000000000', reason: code === 0 ? 'Completed' : 'Error' }) }];
  const phase = (restartPolicy: string, code: number) => podStatus({ pod: pod({ restartPolicy }), hostIP: 'h', containers: exited(code), current: undefined, runtimeName: 'containerd', now }).phase;
  assert.equal(phase('Never', 0), 'Succeeded');
  assert.equal(phase('Never', 1), 'Failed');
  assert.equal(phase('OnFailure', 1), 'Running');
  assert.equal(phase('Always', 0), 'Running');
  const waiting = podStatus({ pod: pod(), hostIP: 'h', containers: [{ name: 'c', image: 'x', waiting: { reason: 'ErrImagePull', message: 'no' } }], current: undefined, runtimeName: 'containerd', now });
  assert.equal(waiting['phase'], 'Pending');
  assert.deepEqual((waiting['containerStatuses'] as Array<Record<string, unknown>>)[0]!['state'], { waiting: { reason: 'ErrImagePull', message: 'no' } });
  const crash = podStatus({ pod: pod(), hostIP: 'h', containers: [{ ...exited(1)[0]!, waiting: { reason: 'CrashLoopBackOff' } }], current: undefined, runtimeName: 'containerd', now });
  const c1 = (crash['containerStatuses'] as Array<Record<string, Record<string, Record<string, unknown>>>>)[0]!;
  assert.equal(c1['state']!['waiting']!['reason'], 'CrashLoopBackOff');
  assert.equal(c1['lastState']!['terminated']!['exitCode'], 1);
});

test('status patch: dropped fields become null, lists matched by name and type', () => {
  const before = { phase: 'Pending', containerStatuses: [{ name: 'c', state: { waiting: { reason: 'ContainerCreating' } } }] };
  const after = { phase: 'Running', podIP: '1.2.3.4', containerStatuses: [{ name: 'c', state: { running: { startedAt: 't' } } }] };
  assert.deepEqual(statusPatch(before, after), { phase: 'Running', podIP: '1.2.3.4', containerStatuses: [{ name: 'c', state: { waiting: null, running: { startedAt: 't' } } }] });
  assert.ok(sameJson({ a: 1, b: null }, { a: 1 }));
});

test('back-off: first retry at once, then 10 s doubling to 5 min', () => {
  let now = 0;
  const b = new Backoff(10_000, 300_000, () => now);
  assert.equal(b.remaining('k', 0), 0);
  b.next('k', 0);
  now = 1000;
  assert.equal(b.remaining('k', 1000), 10_000);
  now = 11_000;
  assert.equal(b.remaining('k', 1000), 0);
  b.next('k', 1000);
  assert.equal(b.delayMs('k'), 20_000);
  for (let i = 0; i < 10; i++) b.next('k', now);
  assert.equal(b.delayMs('k'), 300_000);
  assert.equal(goSeconds(300_000), '5m0s');
});

test('CRI log lines: message text, partial lines joined, tail, timestamps, limit', () => {
  const file = '2024-01-01T00:00:00.1Z stdout F one\n2024-01-01T00:00:01.2Z stderr P tw\n2024-01-01T00:00:01.3Z stderr F o\n2024-01-01T00:00:02.0Z stdout F three\n';
  assert.deepEqual(parseCriLogLine('2024-01-01T00:00:00.1Z stdout F a b'), { time: '2024-01-01T00:00:00.1Z', stream: 'stdout', partial: false, message: 'a b' });
  assert.equal(renderLog(file, { timestamps: false }), 'one\ntwo\nthree\n');
  assert.equal(renderLog(file, { timestamps: false, tailLines: 1 }), 'three\n');
  assert.equal(renderLog(file, { timestamps: true, tailLines: 1 }), '2024-01-01T00:00:02.0Z three\n');
  assert.equal(renderLog(file, { timestamps: false, limitBytes: 5 }), 'one\nt');
  assert.equal(renderLog(file, { timestamps: false, sinceMs: Date.parse('2024-01-01T00:00:01.5Z') }), 'three\n');
});

test('sandbox and container configs: labels, log paths, DNS, cgroup parent, namespaces', () => {
  const p = pod({ containers: [{ name: 'c', image: 'i:1', command: ['sh', '-c'], args: ['echo $(GREETING) $$HOME'], env: [{ name: 'GREETING', value: 'hi' }], ports: [{ containerPort: 8080, hostPort: 80 }] }] });
  const sb = sandboxConfig(p, 0, settings);
  assert.equal(sb.logDirectory, '/var/log/pods/u-1');
  assert.equal(sb.hostname, 'web');
  assert.deepEqual(sb.labels, { 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'apps', 'io.kubernetes.pod.uid': 'u-1' });
  assert.deepEqual(sb.dnsConfig, { servers: ['10.233.0.3'], searches: ['apps.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] });
  assert.deepEqual(sb.portMappings, [{ protocol: 'TCP', containerPort: 8080, hostPort: 80, hostIp: '' }]);
  assert.equal(sb.linux.cgroupParent, 'kubepods-besteffort-podu_1.slice');
  assert.equal(cgroupParent(p, { ...settings, cgroupDriver: 'cgroupfs' }), '/kubepods/besteffort/podu-1');
  assert.deepEqual(sb.linux.securityContext.namespaceOptions, { network: 'POD', pid: 'CONTAINER', ipc: 'POD' });
  const cc = containerConfig(p, p.containers[0]!, 3, 'sha256:abc');
  assert.equal(cc.logPath, 'c/3.log');
  assert.deepEqual(cc.metadata, { name: 'c', attempt: 3 });
  assert.deepEqual(cc.args, ['echo hi $HOME']);
  assert.equal(cc.annotations['io.kubernetes.container.restartCount'], '3');
  assert.equal(cc.labels['io.kubernetes.container.name'], 'c');
  const host = pod({ hostNetwork: true });
  assert.equal(sandboxConfig(host, 0, settings).hostname, '');
  assert.equal(sandboxConfig(host, 0, settings).linux.securityContext.namespaceOptions.network, 'NODE');
  assert.deepEqual(dnsConfigFor(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'] } }), settings), { servers: ['1.1.1.1'], searches: [], options: [] });
  assert.equal(expandVars('$(MISSING)', new Map()), '$(MISSING)');
  assert.equal(defaultPullPolicy('busybox'), 'Always');
  assert.equal(defaultPullPolicy('registry:5000/busybox:1'), 'IfNotPresent');
});

test('static pods: named <name>-<node>, UID = content hash, annotations; a changed file is a new pod; dotfiles ignored', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-static-'));
  try {
    const log = klog('test', () => undefined);
    await writeFile(path.join(dir, '.keep'), '');
    await writeFile(path.join(dir, 'web.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: i:1\n');
    await writeFile(path.join(dir, 'bad.yaml'), 'kind: Pod\n');
    const source = new StaticPodSource(dir, 'node1', log);
    const [first, ...rest] = source.read();
    assert.equal(rest.length, 0);
    assert.equal(first!.pod.name, 'web-node1');
    assert.equal(first!.pod.namespace, 'default');
    assert.match(first!.pod.uid, /^[0-9a-f]{32}$/);
    assert.equal(first!.pod.annotations['kubernetes.io/config.hash'], first!.pod.uid);
    assert.equal(first!.pod.annotations['kubernetes.io/config.source'], 'file');
    assert.equal(source.read()[0]!.pod.annotations['kubernetes.io/config.seen'], first!.pod.annotations['kubernetes.io/config.seen'], 'seen is kept across reads');
    const mirror = mirrorPodObject(first!.pod) as { metadata: { name: string; uid?: string; annotations: Record<string, string> }; spec: { nodeName: string } };
    assert.equal(mirror.metadata.name, 'web-node1');
    assert.equal(mirror.metadata.uid, undefined);
    assert.equal(mirror.metadata.annotations['kubernetes.io/config.mirror'], first!.pod.uid);
    assert.equal(mirror.spec.nodeName, 'node1');
    await writeFile(path.join(dir, 'web.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: i:2\n');
    assert.notEqual(source.read()[0]!.pod.uid, first!.pod.uid);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
