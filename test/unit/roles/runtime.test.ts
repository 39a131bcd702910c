import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import { isKprovError } from '../../../src/errors.js';
import { containerdConfigVersion, containerdTemplateVars } from '../../../src/roles/runtime/containerd.js';
import { CGROUP_DRIVER } from '../../../src/roles/runtime/cgroup-driver.js';
import { IP_FORWARD_SYSCTL_FILE, renderRuntimeFiles, runtimeRole } from '../../../src/roles/runtime/index.js';
import { nodeRole } from '../../../src/roles/node/index.js';
import { describeFailure } from '../../../src/engine/errors.js';
import { waitForContainerd } from '../../../src/roles/runtime/ctr-answers.js';
import { FakeHost } from '../../../dev/fake-fleet.js';
import { isReadAhead } from '../engine/fake-read-ahead.js';
import { runYaml } from '../engine/playbook-harness.js';
import { fakeArtifacts, loadCluster, nodeFleet } from './node-cluster.js';

const PLAYBOOK = `
- name: Container runtime
  hosts: k8s_cluster
  roles: [runtime]
`;
const render = createTemplateRenderer();

test('containerd config format follows containerd_version: 2 from 1.5, 1 for 1.2–1.4, refused outside 1.2–1.x', () => {
  assert.equal(containerdConfigVersion('1.6.20'), 2);
  assert.equal(containerdConfigVersion('1.5.0'), 2);
  assert.equal(containerdConfigVersion('1.4.13'), 1);
  assert.equal(containerdConfigVersion('1.2.6'), 1);
  for (const bad of ['1.1.7', '2.0.0', 'banana']) {
    assert.throws(() => containerdConfigVersion(bad), (e: unknown) => isKprovError(e) && /containerd_version/.test(e.message), bad);
  }
});

test('a version 2 config enables the CRI plugin with runc under the kubelet cgroup driver', async () => {
  const c = await loadCluster(undefined, { containerd_version: '1.6.20' });
  const { config, unit } = renderRuntimeFiles({ render, run: c.run() }, 'node2');
  assert.match(config, /^version = 2$/m);
  assert.match(config, /^disabled_plugins = \[\]$/m);
  assert.match(config, /\[plugins\."io\.containerd\.grpc\.v1\.cri"\]/);
  assert.match(config, /sandbox_image = "k8s\.gcr\.io\/pause:3\.1"/);
  assert.match(config, /runtime_type = "io\.containerd\.runc\.v2"/);
  assert.match(config, /BinaryName = "\/usr\/local\/bin\/runc"/);
  assert.match(config, new RegExp(`SystemdCgroup = ${CGROUP_DRIVER === 'systemd'}`));
  assert.match(config, /address = "\/run\/containerd\/containerd\.sock"/);
  assert.match(config, /bin_dir = "\/opt\/cni\/bin"/);
  assert.match(config, /conf_dir = "\/etc\/cni\/net\.d"/);
  assert.doesNotMatch(config, /plugins\.cri\]/);
  assert.match(unit, /^ExecStart=\/usr\/local\/bin\/containerd --config \/etc\/containerd\/config\.toml$/m);
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^Delegate=yes$/m);
  assert.match(unit, /^KillMode=process$/m);
  assert.match(unit, /^Environment="PATH=\/usr\/local\/bin:/m);
  assert.match(unit, /^WantedBy=multi-user\.target$/m);
});

test('a version 1 config (containerd 1.2) uses plugins.cri and systemd_cgroup, and bin_dir moves every path', async () => {
  const c = await loadCluster(undefined, { containerd_version: '1.2.6', bin_dir: '/opt/kprov/bin' });
  const { config, unit } = renderRuntimeFiles({ render, run: c.run() }, 'node1');
  assert.doesNotMatch(config, /^version = /m);
  assert.match(config, /\[plugins\.cri\]/);
  assert.match(config, new RegExp(`systemd_cgroup = ${CGROUP_DRIVER === 'systemd'}`));
  assert.match(config, /runtime_engine = "\/opt\/kprov\/bin\/runc"/);
  assert.match(config, /\[plugins\.linux\]\n\s+runtime = "\/opt\/kprov\/bin\/runc"/);
  assert.match(unit, /^ExecStart=\/opt\/kprov\/bin\/containerd --config/m);
  assert.match(unit, /^Type=simple$/m);
  assert.match(unit, /PATH=\/opt\/kprov\/bin:/);
  const vars = { bin_dir: '/opt/kprov/bin', containerd_version: '1.2.6', containerd_registries: {}, pod_infra_image_repo: 'k8s.gcr.io/pause', pod_infra_image_tag: '3.1', containerd_restrict_oom_score_adj: false };
  assert.equal(containerdTemplateVars(vars)['runc_path'], '/opt/kprov/bin/runc');
  // containerd 1.2 has no restrict_oom_score_adj: no line, and asking for it is refused.
  assert.doesNotMatch(config, /restrict_oom_score_adj/);
  assert.throws(
    () => containerdTemplateVars({ ...vars, containerd_restrict_oom_score_adj: true }),
    (e: unknown) => isKprovError(e) && e.code === 'config' && /containerd_restrict_oom_score_adj needs containerd 1\.3 or later; containerd_version is 1\.2\.6/.test(e.message),
  );
});

/** The tables of a rendered config, each with its lines (enough TOML to check where a key sits). */
function tomlTables(config: string): Map<string, string[]> {
  const tables = new Map<string, string[]>();
  let current = '';
  tables.set(current, []);
  for (const raw of config.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1]!;
      assert.ok(!tables.has(current), `table [${current}] is defined once`);
      tables.set(current, []);
    } else tables.get(current)!.push(line);
  }
  return tables;
}

test("Kubespray's image settings: registry mirrors (plain http too), the sandbox image, the OOM restriction, in both formats", async () => {
  const settings = {
    containerd_registries: { 'k8s.gcr.io': 'http://10.213.0.1:5000', 'docker.io': ['http://10.213.0.1:5000', 'https://registry-1.docker.io'] },
    kube_image_repo: 'registry.local:5000/k8s',
    pod_infra_image_tag: 3.1,
    containerd_restrict_oom_score_adj: true,
  };
  const v2 = tomlTables(renderRuntimeFiles({ render, run: (await loadCluster(undefined, { containerd_version: '1.6.20', ...settings })).run() }, 'node1').config);
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  assert.ok(v2.get(cri)!.includes('sandbox_image = "registry.local:5000/k8s/pause:3.1"'), 'pod_infra_image_repo follows kube_image_repo');
  assert.ok(v2.get(cri)!.includes('restrict_oom_score_adj = true'));
  assert.deepEqual(v2.get(`${cri}.registry.mirrors."docker.io"`), ['endpoint = ["http://10.213.0.1:5000", "https://registry-1.docker.io"]']);
  assert.deepEqual(v2.get(`${cri}.registry.mirrors."k8s.gcr.io"`), ['endpoint = ["http://10.213.0.1:5000"]']);
  assert.deepEqual(
    [...v2.keys()].filter((k) => k.includes('.mirrors.')),
    [`${cri}.registry.mirrors."docker.io"`, `${cri}.registry.mirrors."k8s.gcr.io"`],
    'sorted by registry name',
  );

  const v1 = tomlTables(renderRuntimeFiles({ render, run: (await loadCluster(undefined, { containerd_version: '1.3.4', ...settings })).run() }, 'node1').config);
  assert.ok(v1.get('plugins.cri')!.includes('restrict_oom_score_adj = true'));
  assert.ok(v1.get('plugins.cri')!.includes('sandbox_image = "registry.local:5000/k8s/pause:3.1"'));
  assert.deepEqual(v1.get('plugins.cri.registry.mirrors."k8s.gcr.io"'), ['endpoint = ["http://10.213.0.1:5000"]']);

  // Defaults: kubeadm v1.13's pause image, Docker Hub's own endpoint for docker.io, no restriction.
  const plain = renderRuntimeFiles({ render, run: (await loadCluster(undefined, { containerd_version: '1.6.20' })).run() }, 'node1').config;
  const d = tomlTables(plain);
  assert.ok(d.get(cri)!.includes('sandbox_image = "k8s.gcr.io/pause:3.1"'));
  assert.ok(d.get(cri)!.includes('restrict_oom_score_adj = false'));
  assert.deepEqual(d.get(`${cri}.registry.mirrors."docker.io"`), ['endpoint = ["https://registry-1.docker.io"]']);
  // No mirrors at all: no registry tables.
  const none = renderRuntimeFiles({ render, run: (await loadCluster(undefined, { containerd_version: '1.6.20', containerd_registries: {} })).run() }, 'node1').config;
  assert.doesNotMatch(none, /registry/);
});

test('bad image settings are refused with what is expected', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ containerd_registries: { 'docker.io': 'ftp://mirror' } }, /containerd_registries.*http:\/\/ or https:\/\/ URL/],
    [{ containerd_registries: { 'docker.io': [] } }, /containerd_registries.*at least one mirror URL/],
    [{ containerd_registries: ['http://mirror'] }, /containerd_registries.*mapping of registry names/],
    [{ pod_infra_image_repo: 'K8s.gcr.io/Pause' }, /pod_infra_image_repo.*image repository/],
    [{ pod_infra_image_tag: 'a:b' }, /pod_infra_image_tag.*image tag/],
    [{ containerd_restrict_oom_score_adj: 'maybe' }, /containerd_restrict_oom_score_adj.*true or false/],
  ];
  for (const [vars, expected] of cases) {
    await assert.rejects(loadCluster(undefined, vars), (e: unknown) => {
      assert.ok(isKprovError(e), String(e));
      assert.match(`${e.message}\n${JSON.stringify(e)}`, expected);
      return true;
    }, JSON.stringify(vars));
  }
});

test('runtime: first apply installs and starts containerd; a re-apply changes nothing, restarts nothing, uploads nothing', async () => {
  const c = await loadCluster(undefined, { containerd_version: '1.6.20' });
  c.artifacts = fakeArtifacts();
  const { fleet } = nodeFleet(['node1', 'node2', 'node3']);

  const first = await runYaml(PLAYBOOK, { inventory: c.view, roles: [runtimeRole], fleet, run: c.run() });
  assert.equal(first.result.status, 'ok', JSON.stringify(first.of('host:finish')));
  for (const name of ['node1', 'node2', 'node3']) {
    const m = fleet.machine(name);
    assert.equal(m.units.get('containerd.service')?.active, true);
    assert.equal(m.units.get('containerd.service')?.enabled, true);
    assert.equal(m.sysctls.get('net.ipv4.ip_forward'), '1');
    assert.match(m.files.get(IP_FORWARD_SYSCTL_FILE)!.content.toString(), /^net\.ipv4\.ip_forward = 1$/m);
    for (const f of ['/usr/local/bin/containerd', '/usr/local/bin/containerd-shim-runc-v2', '/usr/local/bin/ctr', '/usr/local/bin/runc']) {
      assert.equal(m.files.get(f)?.mode, 0o755, f);
    }
    assert.ok(m.files.has('/etc/containerd/config.toml'));
    assert.ok(m.files.has('/etc/systemd/system/containerd.service'));
  }
  // Notified by the files written before the start: the restart is skipped, reported as skipped.
  assert.deepEqual(
    first.of('handler:finish').map((e) => `${e.host} ${e.handler} ${e.status}: ${e.reason}`).sort(),
    ['node1', 'node2', 'node3'].map((h) => `${h} restart containerd skipped: containerd.service was started by this run after every change that notified it`),
  );
  assert.deepEqual(first.result.recap.map((r) => r.skipped), [1, 1, 1]);
  for (const m of fleet.machines.values()) assert.deepEqual(m.restarts, [], 'started once, not restarted');

  const before = new Map([...fleet.machines].map(([n, m]) => [n, { bytes: m.bytesUploaded, restarts: m.restarts.length, snap: m.snapshot() }]));
  const second = await runYaml(PLAYBOOK, { inventory: c.view, roles: [runtimeRole], fleet, run: c.run() });
  assert.equal(second.result.status, 'ok');
  assert.deepEqual(second.result.recap.map((r) => r.changed), [0, 0, 0]);
  assert.equal(second.of('handler:start').length, 0);
  for (const [name, m] of fleet.machines) {
    assert.equal(m.bytesUploaded, before.get(name)!.bytes, `${name} uploaded bytes on a no-op run`);
    assert.equal(m.restarts.length, before.get(name)!.restarts);
    assert.equal(m.snapshot(), before.get(name)!.snap);
  }
});

test('runtime: a new runc is uploaded without restarting containerd; a new containerd restarts it', async () => {
  const c = await loadCluster(undefined, { containerd_version: '1.6.20' });
  c.artifacts = fakeArtifacts();
  const { fleet } = nodeFleet(['node1', 'node2', 'node3']);
  await runYaml(PLAYBOOK, { inventory: c.view, roles: [runtimeRole], fleet, run: c.run() });

  c.artifacts = fakeArtifacts({ versions: { runc: '2' } });
  const runc = await runYaml(PLAYBOOK, { inventory: c.view, roles: [runtimeRole], fleet, run: c.run() });
  assert.equal(runc.result.status, 'ok');
  assert.deepEqual(runc.result.recap.map((r) => r.changed), [1, 1, 1]);
  assert.equal(runc.of('handler:start').length, 0, 'runc is not containerd: no restart');
  assert.match(fleet.machine('node2').files.get('/usr/local/bin/runc')!.content.toString(), /version 2/);

  c.artifacts = fakeArtifacts({ versions: { runc: '2', containerd: '2' } });
  const restarts = fleet.machine('node2').restarts.length;
  const upgrade = await runYaml(PLAYBOOK, { inventory: c.view, roles: [runtimeRole], fleet, run: c.run() });
  assert.equal(upgrade.result.status, 'ok');
  assert.equal(fleet.machine('node2').restarts.length, restarts + 1);
  assert.deepEqual(fleet.machine('node2').restarts.at(-1)?.unit, 'containerd.service');
});

test('runtime: a plan on a fresh host lists every change, waits for nothing and writes nothing', async () => {
  const c = await loadCluster(undefined, { containerd_version: '1.6.20' });
  c.artifacts = fakeArtifacts();
  const { fleet } = nodeFleet(['node1', 'node2', 'node3']);
  const started = Date.now();
  const plan = await runYaml(PLAYBOOK, { inventory: c.view, roles: [runtimeRole], fleet, run: c.run({ dryRun: true }), dryRun: true });
  assert.ok(Date.now() - started < 5_000, 'a plan must not wait for containerd');
  assert.equal(plan.result.status, 'ok');
  // `ctr version` only reads (the fake counts commands it does not know as writes).
  const reads = (argv: string[] | undefined) => argv?.[0]?.endsWith('/ctr');
  for (const m of fleet.machines.values()) assert.deepEqual(m.mutatingCalls().filter((call) => !reads(call.argv)), []);
  const summaries = plan.of('task:finish').filter((e) => e.host === 'node2').flatMap((e) => e.changes.map((ch) => ch.summary));
  assert.ok(summaries.some((s) => /upload \/usr\/local\/bin\/containerd /.test(s)), summaries.join('\n'));
  assert.ok(summaries.some((s) => /wait for containerd/.test(s)), summaries.join('\n'));
  assert.ok(summaries.some((s) => /net\.ipv4\.ip_forward = 1/.test(s)), summaries.join('\n'));
});

test('containerd that never answers fails with its status and journal lines, within the bound', async () => {
  const { fleet } = nodeFleet(['node3']);
  const m = fleet.machine('node3');
  m.units.set('containerd.service', { enabled: true, active: false, failed: true });
  const host = new FakeHost(m);
  const started = Date.now();
  await assert.rejects(
    waitForContainerd(host, { ctr: '/usr/local/bin/ctr', socket: '/run/containerd/containerd.sock', timeoutMs: 600, intervalMs: 100 }),
    (e: unknown) => {
      const info = describeFailure(e);
      assert.match(info.message, /containerd does not answer on \/run\/containerd\/containerd\.sock: timed out after 0\.6 s/);
      assert.ok(info.output?.some((l) => /Active: failed/.test(l)), JSON.stringify(info));
      assert.ok(info.output?.some((l) => /journal of containerd\.service/.test(l)), JSON.stringify(info));
      return true;
    },
  );
  assert.ok(Date.now() - started < 3_000);
});

test('artifact binaries: one look for the whole play; only a file that differs is re-uploaded; its own warnings only', async () => {
  const c = await loadCluster(undefined, { containerd_version: '1.6.20' });
  c.artifacts = fakeArtifacts({
    warnings: { node2: ['containerd 1.6.20 (amd64): checksum NOT verified (--insecure-skip-checksum): http://mirror/x', 'cni v1.1.1 (amd64): checksum NOT verified'] },
  });
  const { fleet } = nodeFleet(['node1', 'node2', 'node3']);
  await runYaml(PLAYBOOK, { inventory: c.view, roles: [runtimeRole], fleet, run: c.run() });
  const m = fleet.machine('node2');
  m.files.get('/usr/local/bin/ctr')!.content = Buffer.from('tampered');
  m.files.get('/usr/local/bin/containerd-shim-runc-v2')!.mode = 0o700;
  const uploadsBefore = m.calls.filter((call) => call.method === 'uploadFile').length;
  const n3Before = fleet.machine('node3').calls.length;
  const r = await runYaml(PLAYBOOK, { inventory: c.view, roles: [runtimeRole], fleet, run: c.run() });
  assert.equal(r.result.status, 'ok');
  const task = r.of('task:finish').find((e) => e.host === 'node2' && e.task === 'containerd binaries')!;
  assert.equal(task.changes.length, 2, JSON.stringify(task.changes));
  assert.equal(task.changes[0]!.summary, 'mode /usr/local/bin/containerd-shim-runc-v2: 0700 → 0755');
  assert.match(task.changes[1]!.summary, /^upload \/usr\/local\/bin\/ctr \(sha256 [0-9a-f]{12}… → [0-9a-f]{12}…\)$/);
  const uploads = m.calls.filter((call) => call.method === 'uploadFile').slice(uploadsBefore);
  assert.deepEqual(uploads.map((u) => u.path), ['/usr/local/bin/ctr']);
  assert.equal(m.files.get('/usr/local/bin/containerd-shim-runc-v2')!.mode, 0o755);
  // An unchanged host: one command for the whole play (every binary, file, unit, sysctl and `ctr version`).
  const n3 = fleet.machine('node3').calls.slice(n3Before).filter((call) => call.method !== 'close');
  assert.deepEqual(n3.map((call) => (isReadAhead(call.argv) ? 'read-ahead' : call.argv?.join(' '))), ['read-ahead']);
  const warnings = r.of('warning').filter((w) => w.host === 'node2').map((w) => w.message);
  assert.deepEqual(warnings, ['containerd 1.6.20 (amd64): checksum NOT verified (--insecure-skip-checksum): http://mirror/x']);
  assert.ok(r.of('handler:finish').some((e) => e.host === 'node2' && e.handler === 'restart containerd'));
});

test('runtime: changing an image setting rewrites only containerd config and restarts only containerd', async () => {
  const RUNTIME_AND_NODE = `
- name: Container runtime
  hosts: k8s_cluster
  roles: [runtime]
- name: Kubernetes nodes
  hosts: k8s_cluster
  roles: [node]
`;
  const base = { containerd_version: '1.6.20' };
  const c = await loadCluster(undefined, base);
  c.artifacts = fakeArtifacts();
  const { fleet } = nodeFleet(['node1', 'node2', 'node3']);
  const first = await runYaml(RUNTIME_AND_NODE, { inventory: c.view, roles: [runtimeRole, nodeRole], fleet, run: c.run() });
  assert.equal(first.result.status, 'ok', JSON.stringify(first.of('host:finish').map((e) => e.error)));

  const changes: Record<string, unknown>[] = [
    { containerd_registries: { 'k8s.gcr.io': ['http://10.213.0.1:5000'] } },
    { kube_image_repo: 'registry.local:5000/k8s' },
    { pod_infra_image_repo: 'registry.local:5000/pause' },
    { pod_infra_image_tag: '3.2' },
    { containerd_restrict_oom_score_adj: true },
  ];
  for (const change of changes) {
    const next = await loadCluster(undefined, { ...base, ...change });
    next.artifacts = c.artifacts;
    // Same cluster, same PKI: only the variable differs.
    Object.assign(next.inventory, { dir: c.inventory.dir });
    const restartsBefore = new Map([...fleet.machines].map(([n, m]) => [n, m.restarts.length]));
    const r = await runYaml(RUNTIME_AND_NODE, { inventory: { ...next.view, dir: c.inventory.dir }, roles: [runtimeRole, nodeRole], fleet, run: next.run() });
    assert.equal(r.result.status, 'ok', JSON.stringify(r.of('host:finish').map((e) => e.error)));
    const changed = r.of('task:finish').filter((e) => e.status === 'changed');
    assert.deepEqual([...new Set(changed.map((e) => e.task))], ['file /etc/containerd/config.toml'], JSON.stringify(change));
    assert.equal(changed.length, 3, 'on every host');
    for (const [name, m] of fleet.machines) {
      assert.deepEqual(m.restarts.slice(restartsBefore.get(name)).map((x) => x.unit), ['containerd.service'], `${name} ${JSON.stringify(change)}`);
    }
    // Back to the start for the next setting.
    const back = await runYaml(RUNTIME_AND_NODE, { inventory: c.view, roles: [runtimeRole, nodeRole], fleet, run: c.run() });
    assert.equal(back.result.status, 'ok');
  }
});
