/**
 * kube-controller-manager, kube-scheduler and kube-proxy stand-ins against the apiserver stand-in
 * on real etcd: componentstatuses through the real kubectl, leader election with failover, and
 * kube-proxy's healthz.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify as toYaml } from 'yaml';
import { Scenario } from './support/scenario.js';
import { waitFor, type Proc } from './support/netns.js';

let s: Scenario;

before(async () => {
  s = await Scenario.create();
  await s.startEtcd();
  await s.startApiserver();
});

after(async () => {
  await s?.destroy();
});

/** `kubectl get componentstatuses` rows as name → {status, rest}. */
async function componentStatuses(): Promise<Map<string, { status: string; line: string }>> {
  const r = await s.kubectl(['get', 'componentstatuses']);
  assert.equal(r.code, 0, r.stderr);
  const [header, ...rows] = r.stdout.trim().split('\n');
  assert.match(header!, /^NAME\s+STATUS\s+MESSAGE\s+ERROR$/);
  return new Map(rows.map((row) => {
    const [name, status] = row.trim().split(/\s+/);
    return [name!, { status: status!, line: row }];
  }));
}

async function waitHealthz(proc: Proc, port: number): Promise<void> {
  await waitFor(`healthz on ${port}`, async () => {
    if (!proc.running) throw new Error(`${proc.label} exited ${String(proc.exitCode)}:\n${proc.output()}`);
    return (await s.probe({ url: `http://127.0.0.1:${port}/healthz` })).body === 'ok' ? true : undefined;
  }, 15_000);
}

interface LeaderRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  leaderTransitions: number;
}

async function leader(lock: string): Promise<LeaderRecord | undefined> {
  const r = await s.api(s.certs.admin, 'GET', `/api/v1/namespaces/kube-system/endpoints/${lock}`);
  if (r.status !== 200) return undefined;
  const annotation = (JSON.parse(r.body!) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.['control-plane.alpha.kubernetes.io/leader'];
  return annotation ? (JSON.parse(annotation) as LeaderRecord) : undefined;
}

test('componentstatuses: unhealthy without scheduler and controller-manager, healthy with them', async () => {
  const before = await componentStatuses();
  assert.equal(before.get('scheduler')?.status, 'Unhealthy');
  assert.match(before.get('scheduler')!.line, /dial tcp 127\.0\.0\.1:10251: connect: connection refused/);
  assert.equal(before.get('controller-manager')?.status, 'Unhealthy');
  assert.equal(before.get('etcd-0')?.status, 'Healthy');
  assert.match(before.get('etcd-0')!.line, /\{"health":\s*"true"/);

  const schedulerConfig = await s.writeFile(
    'scheduler/config.yaml',
    toYaml({
      apiVersion: 'kubescheduler.config.k8s.io/v1alpha1',
      kind: 'KubeSchedulerConfiguration',
      clientConnection: { kubeconfig: await s.kubeconfig('scheduler', s.certs.scheduler) },
      leaderElection: { leaderElect: true },
    }),
  );
  const scheduler = s.start('kube-scheduler', [`--config=${schedulerConfig}`]);
  const cm = s.start('kube-controller-manager', [`--kubeconfig=${await s.kubeconfig('cm', s.certs.controllerManager)}`, '--address=127.0.0.1', `--root-ca-file=${s.certs.ca.cert}`, `--service-account-private-key-file=${s.certs.saKey}`]);
  try {
    await waitHealthz(scheduler, 10251);
    await waitHealthz(cm, 10252);
    const now = await componentStatuses();
    for (const name of ['scheduler', 'controller-manager', 'etcd-0']) assert.equal(now.get(name)?.status, 'Healthy', now.get(name)?.line);
    assert.match(now.get('scheduler')!.line, /Healthy\s+ok/);
    // Both took their leases through the apiserver.
    await waitFor('scheduler lease', () => leader('kube-scheduler'), 10_000);
    await waitFor('controller-manager lease', () => leader('kube-controller-manager'), 10_000);
  } finally {
    await Promise.all([scheduler.stop(), cm.stop()]);
  }
});

test('two controller-managers elect one leader; the other takes over after the leader is killed', async () => {
  // Short leases keep the test brief; the timing rules are v1.13's (lease > renew > 1.2 x retry).
  const kubeconfig = await s.kubeconfig('cm', s.certs.controllerManager);
  const election = ['--leader-elect-lease-duration=4s', '--leader-elect-renew-deadline=3s', '--leader-elect-retry-period=1s', `--kubeconfig=${kubeconfig}`, '--address=127.0.0.1'];
  const a = s.start('kube-controller-manager', [...election, '--port=10262'], 'cm-a');
  const b = s.start('kube-controller-manager', [...election, '--port=10263'], 'cm-b');
  try {
    await waitHealthz(a, 10262);
    await waitHealthz(b, 10263);
    const acquired = (p: Proc) => (p.output().match(/successfully acquired lease kube-system\/kube-controller-manager/g) ?? []).length;
    // The lock may still hold the previous test's leader: wait for one of these two.
    await waitFor('a leader among a and b', async () => (acquired(a) + acquired(b) >= 1 ? true : undefined), 15_000);
    assert.equal(acquired(a) + acquired(b), 1, 'exactly one leader');
    const [first, second] = acquired(a) === 1 ? [a, b] : [b, a];
    const firstRecord = (await leader('kube-controller-manager'))!;
    assert.equal(firstRecord.leaseDurationSeconds, 4);

    first.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor('failover', async () => (acquired(second) === 1 ? true : undefined), 15_000);
    const took = Date.now() - killedAt;
    // A follower takes over once the record it observed is a lease (4 s) old, at its next retry
    // (1 s, jittered): about 5-6 s; the rest is slack for a loaded machine.
    assert.ok(took < 10_000, `failover within the lease plus retries, took ${took} ms`);
    const after = (await leader('kube-controller-manager'))!;
    assert.notEqual(after.holderIdentity, firstRecord.holderIdentity);
    assert.equal(after.leaderTransitions, firstRecord.leaderTransitions + 1);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('a leader that cannot renew exits with "leaderelection lost"', async () => {
  const kubeconfig = await s.kubeconfig('cm', s.certs.controllerManager);
  const cm = s.start('kube-controller-manager', ['--leader-elect-lease-duration=4s', '--leader-elect-renew-deadline=3s', '--leader-elect-retry-period=1s', `--kubeconfig=${kubeconfig}`, '--port=10264']);
  try {
    await waitFor('leadership', async () => (cm.output().includes('successfully acquired lease') ? true : undefined), 15_000);
    // Take the lock away behind its back: the next renewals conflict until the deadline passes.
    await waitFor('lock stolen', async () => {
      const r = await s.api(s.certs.admin, 'GET', '/api/v1/namespaces/kube-system/endpoints/kube-controller-manager');
      const ep = JSON.parse(r.body!) as { metadata: Record<string, unknown> & { annotations: Record<string, string> } };
      const record = JSON.parse(ep.metadata.annotations['control-plane.alpha.kubernetes.io/leader']!) as Record<string, unknown>;
      ep.metadata.annotations['control-plane.alpha.kubernetes.io/leader'] = JSON.stringify({ ...record, holderIdentity: 'thief', renewTime: new Date(Date.now() + 3_600_000).toISOString() });
      const put = await s.api(s.certs.admin, 'PUT', '/api/v1/namespaces/kube-system/endpoints/kube-controller-manager', ep);
      return put.status === 200 ? true : undefined;
    }, 10_000);
    const exit = await cm.waitExit(10_000);
    assert.ok(exit, 'the controller-manager exited');
    assert.equal(exit.code, 255);
    assert.match(cm.output().trim().split('\n').at(-1)!, /^F\d{4} .*leaderelection lost$/);
  } finally {
    await cm.stop();
  }
});

test('kube-proxy with a KubeProxyConfiguration connects with its kubeconfig and serves healthz on 10256', async () => {
  const config = await s.writeFile(
    'proxy/config.yaml',
    toYaml({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: await s.kubeconfig('kube-proxy', s.certs.kubeProxy, { embed: true }) },
      mode: 'iptables',
      clusterCIDR: '10.244.0.0/16',
    }),
  );
  const proxy = s.start('kube-proxy', [`--config=${config}`]);
  try {
    const r = await waitFor('kube-proxy healthz', async () => {
      if (!proxy.running) throw new Error(`kube-proxy exited:\n${proxy.output()}`);
      const res = await s.probe({ url: 'http://127.0.0.1:10256/healthz' });
      return res.status === 200 ? res : undefined;
    }, 15_000);
    const body = JSON.parse(r.body!) as { lastUpdated: string; currentTime: string };
    assert.ok(Date.parse(body.lastUpdated) > 0);
    assert.equal((await s.probe({ url: 'http://127.0.0.1:10249/proxyMode' })).body, 'iptables');
  } finally {
    await proxy.stop();
  }
  // The kube-proxy identity is refused where its role does not reach: its kubeconfig as the
  // admin's would be fine, but a client certificate from another CA is not.
  const otherCa = await s.pki.ca('proxy-other-ca', 'other');
  const stranger = await s.pki.issue(otherCa, 'proxy-stranger', { cn: 'system:kube-proxy', usage: 'client' });
  const bad = await s.run('kube-proxy', [`--kubeconfig=${await s.kubeconfig('proxy-stranger', stranger)}`, '--healthz-port=0']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr.trim().split('\n').at(-1)!, /rejected the credentials: Unauthorized/);
});
