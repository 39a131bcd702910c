/** The kubelet's service environment, volume files and probes (no runtime needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { podSchema, toPod } from '../../../dev/standin/kubelet/pod-spec.js';
import { containerEnv, containerConfig } from '../../../dev/standin/kubelet/runtime-config.js';
import { serviceEnv, type EnvService } from '../../../dev/standin/kubelet/service-env.js';
import { projectKeys, VolumeError, VolumeManager, writeAtomicDir } from '../../../dev/standin/kubelet/volumes.js';
import { ProbeManager, ProbeState, probeTimings, resolvePort, runProbe, type ProbeTarget } from '../../../dev/standin/kubelet/probes.js';
import { podStatus } from '../../../dev/standin/kubelet/pod-status.js';

const svc = (ns: string, name: string, clusterIP: string, ports: EnvService['spec']['ports']): EnvService => ({ metadata: { name, namespace: ns }, spec: { clusterIP, ports } });

test('service environment: default/kubernetes always, the namespace\'s services with enableServiceLinks, Docker link variables', () => {
  const services = [
    svc('default', 'kubernetes', '10.233.0.1', [{ name: 'https', port: 443, protocol: 'TCP' }]),
    svc('apps', 'web-api', '10.233.0.50', [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }]),
    svc('apps', 'headless', 'None', [{ port: 80 }]),
    svc('other', 'elsewhere', '10.233.0.70', [{ port: 80 }]),
  ];
  const env = serviceEnv(services, 'apps', true);
  assert.equal(env.get('KUBERNETES_SERVICE_HOST'), '10.233.0.1');
  assert.equal(env.get('KUBERNETES_SERVICE_PORT'), '443');
  assert.equal(env.get('KUBERNETES_SERVICE_PORT_HTTPS'), '443');
  assert.equal(env.get('KUBERNETES_PORT'), 'tcp://10.233.0.1:443');
  assert.equal(env.get('KUBERNETES_PORT_443_TCP'), 'tcp://10.233.0.1:443');
  assert.equal(env.get('KUBERNETES_PORT_443_TCP_PROTO'), 'tcp');
  assert.equal(env.get('KUBERNETES_PORT_443_TCP_PORT'), '443');
  assert.equal(env.get('KUBERNETES_PORT_443_TCP_ADDR'), '10.233.0.1');
  assert.equal(env.get('WEB_API_SERVICE_HOST'), '10.233.0.50');
  assert.equal(env.get('WEB_API_SERVICE_PORT'), '80');
  assert.equal(env.get('WEB_API_SERVICE_PORT_DNS'), '53');
  assert.equal(env.get('WEB_API_PORT_53_UDP'), 'udp://10.233.0.50:53');
  assert.ok(![...env.keys()].some((k) => k.startsWith('HEADLESS') || k.startsWith('ELSEWHERE')));
  const off = serviceEnv(services, 'apps', false);
  assert.deepEqual([...off.keys()].filter((k) => !k.startsWith('KUBERNETES_')), []);
  assert.equal(off.get('KUBERNETES_SERVICE_HOST'), '10.233.0.1');
});

test('container variables come first, may reference service variables, and win over them', () => {
  const env = containerEnv({ name: 'c', image: 'i', env: [{ name: 'API', value: 'https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)' }, { name: 'KUBERNETES_SERVICE_PORT', value: '1' }] }, new Map([['KUBERNETES_SERVICE_HOST', '10.0.0.1'], ['KUBERNETES_SERVICE_PORT', '443']]));
  assert.deepEqual(env, [
    { key: 'API', value: 'https://10.0.0.1:443' },
    { key: 'KUBERNETES_SERVICE_PORT', value: '1' },
    { key: 'KUBERNETES_SERVICE_HOST', value: '10.0.0.1' },
  ]);
});

test('secret and config map files: keys or items, defaultMode, the atomic writer layout; a missing key fails', async () => {
  const data = new Map([['Corefile', Buffer.from('.:53 {}\n')], ['other', Buffer.from('x')]]);
  assert.deepEqual(projectKeys('cm', data, undefined, undefined, false).map((f) => [f.path, f.mode]), [['Corefile', 0o644], ['other', 0o644]]);
  assert.deepEqual(projectKeys('cm', data, [{ key: 'Corefile', path: 'conf/Corefile', mode: 0o600 }], 0o444, false).map((f) => [f.path, f.mode]), [['conf/Corefile', 0o600]]);
  assert.throws(() => projectKeys('configmap "c"', data, [{ key: 'nope', path: 'n' }], undefined, false), /configmap "c" references non-existent config key: nope/);
  assert.deepEqual(projectKeys('cm', data, [{ key: 'nope', path: 'n' }], undefined, true), []);
  assert.throws(() => projectKeys('cm', data, [{ key: 'other', path: '../x' }], undefined, false), VolumeError);

  const dir = await mkdtemp(path.join(tmpdir(), 'kubelet-vol-'));
  try {
    await writeAtomicDir(path.join(dir, 'v'), projectKeys('cm', data, [{ key: 'Corefile', path: 'conf/Corefile' }], 0o640, false));
    assert.equal(await readFile(path.join(dir, 'v', 'conf', 'Corefile'), 'utf8'), '.:53 {}\n');
    assert.equal(await readlink(path.join(dir, 'v', 'conf')), '..data/conf');
    assert.match(await readlink(path.join(dir, 'v', '..data')), /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$/);
    assert.equal((await stat(path.join(dir, 'v', 'conf', 'Corefile'))).mode & 0o777, 0o640);

    // The manager: a secret from the API (base64), an emptyDir, mounts read-only for API data.
    const client = {
      call: async (_m: string, p: string) => {
        if (p === '/api/v1/namespaces/apps/secrets/tok') return { data: { token: Buffer.from('abc').toString('base64') } };
        const { ApiError } = await import('../../../dev/standin/common/client.js');
        throw new ApiError(404, 'NotFound', 'not found');
      },
    };
    const vm = new VolumeManager(dir, client as never);
    const pod = toPod(
      podSchema.parse({
        metadata: { name: 'p', namespace: 'apps', uid: 'u1' },
        spec: {
          volumes: [{ name: 'sa', secret: { secretName: 'tok' } }, { name: 'scratch', emptyDir: {} }],
          containers: [{ name: 'c', image: 'i', volumeMounts: [{ name: 'sa', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }, { name: 'scratch', mountPath: '/scratch' }] }],
        },
      }),
      'u1',
    );
    const paths = await vm.setUp(pod);
    assert.equal(await readFile(path.join(paths.get('sa')!, 'token'), 'utf8'), 'abc');
    assert.equal(paths.get('sa'), path.join(dir, 'pods', 'u1', 'volumes', 'kubernetes.io~secret', 'sa'));
    assert.equal((await stat(paths.get('scratch')!)).mode & 0o777, 0o777);
    const mounts = vm.mountsFor(pod, pod.containers[0]!, paths);
    assert.deepEqual(mounts.map((m) => [m.containerPath, m.readonly]), [['/var/run/secrets/kubernetes.io/serviceaccount', true], ['/scratch', false]]);
    assert.deepEqual(containerConfig(pod, pod.containers[0]!, 0, 'img', { mounts }).mounts, mounts);
    const missing = toPod(podSchema.parse({ metadata: { name: 'q', namespace: 'apps', uid: 'u2' }, spec: { volumes: [{ name: 'cfg', configMap: { name: 'absent' } }], containers: [{ name: 'c', image: 'i' }] } }), 'u2');
    await assert.rejects(vm.setUp(missing), /configmap "absent" not found/);
    await vm.tearDown('u1');
    await assert.rejects(stat(path.join(dir, 'pods', 'u1')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('probe defaults and thresholds are v1.13\'s', () => {
  assert.deepEqual(probeTimings({}), { initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 });
  const readiness = new ProbeState(false, { successThreshold: 1, failureThreshold: 3 });
  assert.equal(readiness.record(true), true);
  assert.equal(readiness.result, true);
  assert.equal(readiness.record(false), false);
  assert.equal(readiness.record(false), false);
  assert.equal(readiness.record(true), false, 'a success resets the failure count');
  assert.equal(readiness.record(false), false);
  assert.equal(readiness.record(false), false);
  assert.equal(readiness.record(false), true);
  assert.equal(readiness.result, false);
  assert.equal(resolvePort({ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 8080 }] }, 'http'), 8080);
  assert.equal(resolvePort({ name: 'c', image: 'i' }, '81'), 81);
});

test('httpGet, tcpSocket and exec probes; the manager keeps timers only for containers with probes', async () => {
  let status = 200;
  const server = http.createServer((req, res) => res.writeHead(req.url === '/healthz' ? status : 404).end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const pod = toPod(podSchema.parse({ metadata: { name: 'p', uid: 'u' }, spec: { containers: [{ name: 'c', image: 'i', ports: [{ name: 'web', containerPort: port }] }] } }), 'u');
    const t: ProbeTarget = { pod, container: pod.containers[0]!, containerId: 'cid', podIP: '127.0.0.1', startedAtMs: Date.now() };
    const exec = async (_id: string, cmd: string[]) => ({ exitCode: cmd[0] === 'true' ? 0 : 1, stdout: '', stderr: 'nope' });
    assert.deepEqual(await runProbe({ httpGet: { path: '/healthz', port: 'web' } }, t, exec), { ok: true });
    status = 500;
    assert.deepEqual(await runProbe({ httpGet: { path: '/healthz', port } }, t, exec), { ok: false, message: 'HTTP probe failed with statuscode: 500' });
    assert.deepEqual(await runProbe({ tcpSocket: { port } }, t, exec), { ok: true });
    assert.equal((await runProbe({ tcpSocket: { port: 1 } }, t, exec)).ok, false);
    assert.deepEqual(await runProbe({ exec: { command: ['true'] } }, t, exec), { ok: true });
    assert.deepEqual(await runProbe({ exec: { command: ['false'] } }, t, exec), { ok: false, message: 'nope' });

    // Readiness through the manager: first probe at once (random 0), one period of 1 s.
    status = 200;
    const changes: boolean[] = [];
    const m = new ProbeManager({ exec, onReadinessChange: (_t, ready) => changes.push(ready), onLivenessFailure: () => undefined, log: () => undefined }, () => 0);
    const probed = { ...t, container: { ...t.container, readinessProbe: { httpGet: { path: '/healthz', port }, periodSeconds: 1 } } };
    m.update([{ ...t, containerId: 'plain' }]);
    assert.equal(m.active, 0, 'no probe, no timer');
    assert.equal(m.ready('plain', t.container), true);
    m.update([probed]);
    assert.equal(m.active, 1);
    assert.equal(m.ready('cid', probed.container), false, 'not ready before the first success');
    for (let i = 0; i < 40 && changes.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(changes, [true]);
    assert.equal(m.ready('cid', probed.container), true);
    m.stop();
    assert.equal(m.active, 0);
  } finally {
    server.close();
  }
});

test('readiness drives the container\'s ready and the pod\'s Ready condition', () => {
  const pod = toPod(podSchema.parse({ metadata: { name: 'p', uid: 'u' }, spec: { containers: [{ name: 'c', image: 'i' }] } }), 'u');
  const latest = { id: 'x', metadata: { name: 'c', attempt: 0 }, state: 'CONTAINER_RUNNING' as const, createdAt: '1', startedAt: '1700000000000000000', finishedAt: '0', exitCode: 0, image: { image: 'i' }, imageRef: 'r', reason: '', message: '', labels: {}, annotations: {}, logPath: '' };
  const st = (ready: boolean) => podStatus({ pod, hostIP: '10.0.0.1', podIP: '10.1.0.2', containers: [{ name: 'c', image: 'i', latest, ready }], current: undefined, runtimeName: 'containerd', now: new Date() }) as { conditions: Array<{ type: string; status: string }>; containerStatuses: Array<{ ready: boolean }> };
  assert.equal(st(false).containerStatuses[0]!.ready, false);
  assert.equal(st(false).conditions.find((c) => c.type === 'Ready')!.status, 'False');
  assert.equal(st(true).conditions.find((c) => c.type === 'Ready')!.status, 'True');
});

test('the service list is cached, and an API that does not answer gives the last list (static pods start before the apiserver)', async () => {
  const { ServiceLister } = await import('../../../dev/standin/kubelet/service-env.js');
  let calls = 0;
  let fail = true;
  const lister = new ServiceLister(async () => {
    calls++;
    if (fail) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
    return { items: [svc('default', 'kubernetes', '10.233.0.1', [{ name: 'https', port: 443 }])] };
  }, 10_000);
  assert.deepEqual(await lister.services(), []);
  assert.deepEqual(await lister.services(), [], 'not asked again at once');
  assert.equal(calls, 1);
  fail = false;
  const fresh = new ServiceLister(async () => ({ items: [svc('default', 'kubernetes', '10.233.0.1', [{ name: 'https', port: 443 }]), { bad: true }] }));
  assert.equal((await fresh.services()).length, 1);
});
