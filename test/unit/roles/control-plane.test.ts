/**
 * The control-plane role: its rendered units for a 3-host control plane, the checks made before
 * any host is touched, and whole runs through the engine on fake hosts (start order, no-op
 * re-run, rolling restarts of exactly the components whose inputs changed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { pkiInputFromTopology } from '../../../src/cluster/pki.js';
import { buildTopology } from '../../../src/cluster/topology.js';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { templatesDir } from '../../../src/paths.js';
import { planCertificates } from '../../../src/pki/index.js';
import { controlPlaneRole } from '../../../src/roles/control-plane/index.js';
import { controlPlaneReaders, renderControlPlaneUnits } from '../../../src/roles/control-plane/units.js';
import { etcdRole } from '../../../src/roles/etcd/index.js';
import { splitCommandLine, execStartLines } from '../../../src/cluster/flags.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { runYaml, runYamlRefused } from '../engine/playbook-harness.js';
import { clusterScript, fakeArtifacts, loadTestInventory, testRun, writeInventory, type FakeClusterState } from '../cluster/test-cluster.js';

const PLAYBOOK = `
- name: etcd
  hosts: etcd
  roles: [etcd]
- name: Control plane
  hosts: kube_control_plane
  roles: [control-plane]
`;

/** `--flag=value` pairs of a unit's ExecStart. */
function flagsOf(unit: string): Map<string, string> {
  const argv = splitCommandLine(execStartLines(unit)[0]!);
  return new Map(argv.slice(1).map((a) => [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
}

test('three control-plane hosts: the units carry kubeadm v1.13\'s flags with the inventory\'s values', async (t) => {
  const inventory = await loadTestInventory(t, { vars: { kube_log_level: 3, kube_apiserver_port: 8443, kube_cert_dir: '/etc/kubernetes/pki' } });
  const topology = buildTopology(inventory);
  const plan = planCertificates(pkiInputFromTopology(topology));
  const units = renderControlPlaneUnits({ render: createTemplateRenderer(), run: testRun(inventory) }, topology, topology.controlPlane[1]!, plan);

  const api = flagsOf(units['kube-apiserver']);
  assert.deepEqual(Object.fromEntries(api), {
    'advertise-address': '10.10.0.2',
    'allow-privileged': 'true',
    'apiserver-count': '3',
    'authorization-mode': 'Node,RBAC',
    'bind-address': '0.0.0.0',
    'client-ca-file': '/etc/kubernetes/pki/ca.crt',
    'enable-admission-plugins': 'NodeRestriction',
    'enable-bootstrap-token-auth': 'true',
    'etcd-cafile': '/etc/ssl/etcd/ssl/ca.crt',
    'etcd-certfile': '/etc/kubernetes/pki/apiserver-etcd-client.crt',
    'etcd-keyfile': '/etc/kubernetes/pki/apiserver-etcd-client.key',
    'etcd-servers': 'https://10.10.0.1:2379,https://10.10.0.2:2379,https://10.10.0.3:2379',
    'insecure-port': '0',
    'kubelet-client-certificate': '/etc/kubernetes/pki/apiserver-kubelet-client.crt',
    'kubelet-client-key': '/etc/kubernetes/pki/apiserver-kubelet-client.key',
    'kubelet-preferred-address-types': 'InternalIP,ExternalIP,Hostname',
    'proxy-client-cert-file': '/etc/kubernetes/pki/front-proxy-client.crt',
    'proxy-client-key-file': '/etc/kubernetes/pki/front-proxy-client.key',
    'requestheader-allowed-names': 'front-proxy-client',
    'requestheader-client-ca-file': '/etc/kubernetes/pki/front-proxy-ca.crt',
    'requestheader-extra-headers-prefix': 'X-Remote-Extra-',
    'requestheader-group-headers': 'X-Remote-Group',
    'requestheader-username-headers': 'X-Remote-User',
    'secure-port': '8443',
    'service-account-key-file': '/etc/kubernetes/pki/sa.pub',
    'service-cluster-ip-range': '10.233.0.0/18',
    'tls-cert-file': '/etc/kubernetes/pki/apiserver.crt',
    'tls-private-key-file': '/etc/kubernetes/pki/apiserver.key',
    v: '3',
  });
  assert.equal(execStartLines(units['kube-apiserver'])[0]!.split(/\s+/)[0], '/usr/local/bin/kube-apiserver');

  const cm = flagsOf(units['kube-controller-manager']);
  assert.equal(cm.get('address'), '127.0.0.1');
  assert.equal(cm.get('allocate-node-cidrs'), 'false');
  assert.equal(cm.get('cluster-cidr'), '10.233.64.0/18');
  assert.equal(cm.get('cluster-signing-cert-file'), '/etc/kubernetes/pki/ca.crt');
  assert.equal(cm.get('cluster-signing-key-file'), '/etc/kubernetes/pki/ca.key');
  assert.equal(cm.get('controllers'), '*,bootstrapsigner,tokencleaner');
  for (const k of ['kubeconfig', 'authentication-kubeconfig', 'authorization-kubeconfig']) assert.equal(cm.get(k), '/etc/kubernetes/controller-manager.conf');
  assert.equal(cm.get('leader-elect'), 'true');
  assert.equal(cm.get('root-ca-file'), '/etc/kubernetes/pki/ca.crt');
  assert.equal(cm.get('service-account-private-key-file'), '/etc/kubernetes/pki/sa.key');
  assert.equal(cm.get('use-service-account-credentials'), 'true');
  assert.equal(cm.get('service-cluster-ip-range'), '10.233.0.0/18');

  assert.deepEqual(Object.fromEntries(flagsOf(units['kube-scheduler'])), {
    address: '127.0.0.1', kubeconfig: '/etc/kubernetes/scheduler.conf', 'leader-elect': 'true', v: '3',
  });
  for (const u of Object.values(units)) assert.match(u, /^Restart=on-failure$/m);
});

test('which component restarts for which file (stated once, in the certificate table)', async (t) => {
  const inventory = await loadTestInventory(t);
  const files = await testRun(inventory).pki().then(async (pki) => [...pki.filesForHost('node1', ['control-plane']), ...(await pki.kubeconfigsForHost('node1', ['control-plane']))]);
  const readersOf = (spec: string, part: string) => controlPlaneReaders(files.find((f) => f.spec === spec && f.part === part)!.readers);
  assert.deepEqual(readersOf('sa', 'key'), ['kube-controller-manager']);
  assert.deepEqual(readersOf('sa', 'pub'), ['kube-apiserver']);
  assert.deepEqual(readersOf('etcd/ca', 'cert'), ['kube-apiserver']);
  assert.deepEqual(readersOf('scheduler', 'kubeconfig'), ['kube-scheduler']);
  assert.deepEqual(readersOf('admin', 'kubeconfig'), []);
  assert.deepEqual(readersOf('ca', 'key'), ['kube-controller-manager']);
  assert.deepEqual(readersOf('ca', 'cert'), ['kube-apiserver', 'kube-controller-manager']);
});

async function setup(t: Parameters<typeof loadTestInventory>[0], vars: Record<string, unknown> = {}) {
  const dir = await writeInventory(t, { vars });
  const inventory = await loadInventory(dir);
  const fleet = new FakeFleet(inventory.hosts.map((h) => h.name));
  const state: FakeClusterState = { added: [], unhealthy: new Set() };
  for (const m of fleet.machines.values()) m.script = clusterScript(state);
  const artifacts = Promise.resolve(await fakeArtifacts(t));
  return { dir, inventory, fleet, artifacts };
}

test('a broken template fails before any host is contacted, naming template and flag', async (t) => {
  const { inventory, fleet, artifacts } = await setup(t);
  const broken = await mkdtemp(path.join(tmpdir(), 'kprov-templates-'));
  t.after(() => rm(broken, { recursive: true, force: true }));
  await cp(templatesDir, broken, { recursive: true });
  const unit = path.join(broken, 'control-plane', 'kube-scheduler.service.j2');
  await writeFile(unit, (await readFile(unit, 'utf8')).replace('--leader-elect=true', '--leader-elect=true --leader-elect-magic=x'));
  const run = await runYamlRefused(PLAYBOOK, { inventory, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(inventory, artifacts), render: createTemplateRenderer(broken) });
  assert.equal(run.error.exitCode, 2, 'bad input');
  assert.equal(run.error.message, 'templates/control-plane/kube-scheduler.service.j2: kube-scheduler does not accept --leader-elect-magic (v1.13)');
  assert.deepEqual(run.of('run:invalid').map((e) => [e.play, e.role, e.error.message]), [['etcd', 'etcd', run.error.message]]);
  assert.deepEqual(fleet.allCalls(), [], 'no host was contacted');
  await assert.rejects(stat(path.join(inventory.dir, 'pki')), /ENOENT/, 'nothing issued either');
});

test('a run: apiserver healthy before the others start; admin.conf for the user; then a no-op', async (t) => {
  const { inventory, fleet, artifacts } = await setup(t);
  const run = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(inventory, artifacts) });
  assert.equal(run.result.status, 'ok', JSON.stringify(run.of('host:finish').map((e) => e.error)));
  const names = run.of('host:tasks').find((e) => e.play === 'Control plane' && e.host === 'node1')!.tasks.map((x) => x.name);
  assert.deepEqual(names.slice(0, 4), ['kube-apiserver binary', 'kube-controller-manager binary', 'kube-scheduler binary', 'kubectl binary']);
  assert.deepEqual(names.slice(-5), [
    'start kube-apiserver.service', 'start kube-controller-manager.service', 'start kube-scheduler.service',
    'wait until kube-controller-manager.service is healthy', 'wait until kube-scheduler.service is healthy',
  ]);
  for (const m of fleet.machines.values()) {
    const argv = m.calls.map((c) => c.argv?.join(' ') ?? '');
    const apiHealthy = argv.findIndex((a) => a.endsWith('get --raw=/healthz'));
    const cmStart = argv.indexOf('systemctl start --no-block -- kube-controller-manager.service');
    assert.ok(apiHealthy >= 0 && cmStart > apiHealthy, `${m.name}: the apiserver answered /healthz before the controller manager started`);
    assert.ok(argv.some((a) => a.endsWith('get --raw=/api/v1/componentstatuses/scheduler')), `${m.name}: scheduler health checked`);
    assert.equal(m.files.get('/etc/kubernetes/admin.conf')!.mode, 0o600);
    assert.equal(m.files.get('/etc/kubernetes/ssl/ca.key')!.mode, 0o600);
    assert.deepEqual(m.restarts, []);
  }
  const admin = path.join(inventory.dir, 'artifacts', 'admin.conf');
  assert.equal((await stat(admin)).mode & 0o777, 0o600);
  assert.equal((await stat(path.dirname(admin))).mode & 0o777, 0o700);
  assert.match(await readFile(admin, 'utf8'), /server: https:\/\/10\.10\.0\.1:6443/);

  for (const m of fleet.machines.values()) m.mkdirs('/var/lib/etcd/member');
  const again = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(inventory, artifacts) });
  assert.deepEqual(again.result.recap.map((r) => r.changed), [0, 0, 0]);
  for (const m of fleet.machines.values()) assert.deepEqual(m.restarts, []);
});

test('a changed log level restarts only the control plane, one component and host at a time; a new sa.key only the controller manager', async (t) => {
  const { dir, inventory, fleet, artifacts } = await setup(t);
  await runYaml(PLAYBOOK, { inventory, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(inventory, artifacts) });
  for (const m of fleet.machines.values()) m.mkdirs('/var/lib/etcd/member');

  await writeFile(path.join(dir, 'group_vars', 'all', 'all.yml'), stringify({ kube_log_level: 5 }));
  const relogged = await loadInventory(dir);
  const run = await runYaml(PLAYBOOK, { inventory: relogged, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(relogged, artifacts) });
  assert.equal(run.result.status, 'ok');
  const changedFiles = run.of('task:finish').filter((e) => e.status === 'changed').flatMap((e) => e.changes.filter((c) => c.kind === 'file').map((c) => `${e.host}:${c.path}`));
  assert.deepEqual(changedFiles.sort(), ['node1', 'node2', 'node3'].flatMap((h) => ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((c) => `${h}:/etc/systemd/system/${c}.service`)).sort());
  // Every restart, in time order across hosts: handlers one after the other, hosts in turn.
  const restarts = [...fleet.machines.values()].flatMap((m) => m.restarts.map((r) => ({ ...r, host: m.name }))).sort((a, b) => a.at - b.at);
  assert.deepEqual(restarts.map((r) => `${r.unit}@${r.host}`), ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].flatMap((c) => ['node1', 'node2', 'node3'].map((h) => `${c}.service@${h}`)));
  const handlers = run.events.filter((e) => e.type === 'handler:start' || e.type === 'handler:finish');
  for (let i = 0; i < handlers.length; i += 2) {
    assert.equal(handlers[i]!.type, 'handler:start');
    assert.equal(handlers[i + 1]!.type, 'handler:finish', 'each restart finishes before the next starts');
  }

  for (const m of fleet.machines.values()) {
    m.restarts.length = 0;
    m.files.get('/etc/kubernetes/ssl/sa.key')!.content = Buffer.from('replaced\n');
  }
  const sa = await runYaml(PLAYBOOK, { inventory: relogged, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(relogged, artifacts) });
  assert.equal(sa.result.status, 'ok');
  for (const m of fleet.machines.values()) assert.deepEqual(m.restarts.map((r) => r.unit), ['kube-controller-manager.service']);
});

test('killed while the first kube-apiserver restarts: the next run restarts the 9 components still owed, rolling; then nothing', async (t) => {
  const { dir, inventory, fleet, artifacts } = await setup(t);
  await runYaml(PLAYBOOK, { inventory, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(inventory, artifacts) });
  for (const m of fleet.machines.values()) m.mkdirs('/var/lib/etcd/member');

  // kprov dies (SIGKILL) just after it asked node1 to restart its API server: every connection goes.
  const node1 = fleet.machine('node1');
  const builtin = node1.builtin.bind(node1);
  let killed = false;
  node1.builtin = (argv) => {
    const known = builtin(argv);
    if (!killed && argv.join(' ') === 'systemctl restart -- kube-apiserver.service') {
      killed = true;
      for (const m of fleet.machines.values()) m.lost = true;
    }
    return known;
  };
  await writeFile(path.join(dir, 'group_vars', 'all', 'all.yml'), stringify({ kube_log_level: 3 }));
  const relogged = await loadInventory(dir);
  const cluster = { inventory: relogged, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(relogged, artifacts) };
  const interrupted = await runYaml(PLAYBOOK, cluster);
  assert.equal(interrupted.result.status, 'failed');
  assert.ok(killed);
  assert.deepEqual([...fleet.machines.values()].flatMap((m) => m.restarts.map((r) => `${r.unit}@${m.name}`)), ['kube-apiserver.service@node1']);

  // The machines are back; the files are all right, so only the records still say what is owed.
  for (const m of fleet.machines.values()) {
    m.lost = false;
    m.restarts.length = 0;
  }
  const plan = await runYaml(PLAYBOOK, { ...cluster, dryRun: true, run: testRun(relogged, artifacts, { dryRun: true }) });
  const owed = plan.of('task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host}: ${e.changes.map((c) => c.summary).join()}`);
  assert.deepEqual(
    owed.sort(),
    ['node1', 'node2', 'node3'].flatMap((h) =>
      ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((c) => `${h}: restart ${c} (pending from an interrupted run: /etc/systemd/system/${c}.service changed)`),
    ),
    'each host owes its three restarts, node1 its API server too (its health was never confirmed)',
  );
  for (const m of fleet.machines.values()) assert.deepEqual(m.restarts, [], 'a plan restarts nothing');

  const resumed = await runYaml(PLAYBOOK, cluster);
  assert.equal(resumed.result.status, 'ok', JSON.stringify(resumed.of('handler:finish').filter((e) => e.error).map((e) => e.error)));
  const restarts = [...fleet.machines.values()].flatMap((m) => m.restarts.map((r) => ({ ...r, host: m.name }))).sort((a, b) => a.at - b.at);
  assert.deepEqual(restarts.map((r) => `${r.unit}@${r.host}`), ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].flatMap((c) => ['node1', 'node2', 'node3'].map((h) => `${c}.service@${h}`)));
  const handlers = resumed.events.filter((e) => e.type === 'handler:start' || e.type === 'handler:finish');
  for (let i = 0; i < handlers.length; i += 2) assert.deepEqual([handlers[i]!.type, handlers[i + 1]!.type], ['handler:start', 'handler:finish'], 'one restart at a time');
  assert.deepEqual(resumed.of('task:finish').filter((e) => e.status === 'changed' && !e.task.startsWith('pending: ')).map((e) => e.task), [], 'nothing else changes');

  for (const m of fleet.machines.values()) m.restarts.length = 0;
  const third = await runYaml(PLAYBOOK, cluster);
  assert.deepEqual(third.result.recap.map((r) => r.changed), [0, 0, 0]);
  for (const m of fleet.machines.values()) assert.deepEqual(m.restarts, []);
});

test('a dry run writes nothing: no host change, no PKI, no admin.conf', async (t) => {
  const { inventory, fleet, artifacts } = await setup(t);
  const run = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(inventory, artifacts, { dryRun: true }), dryRun: true });
  assert.equal(run.result.status, 'ok', JSON.stringify(run.of('host:finish').map((e) => e.error)));
  const readOnly = (argv: readonly string[] = []) => argv[3] === 'kprov-etcd-facts';
  for (const m of fleet.machines.values()) assert.deepEqual(m.mutatingCalls().filter((c) => !readOnly(c.argv)), []);
  await assert.rejects(stat(path.join(inventory.dir, 'pki')), /ENOENT/);
  await assert.rejects(stat(path.join(inventory.dir, 'artifacts')), /ENOENT/);
});

test('kubectl_localhost copies the verified kubectl to <inventory>/artifacts; kubeconfig_localhost: false keeps admin.conf off the control host', async (t) => {
  const { inventory, fleet, artifacts } = await setup(t, { kubectl_localhost: true, kubeconfig_localhost: false });
  const run = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(inventory, artifacts) });
  assert.equal(run.result.status, 'ok', JSON.stringify(run.of('host:finish').map((e) => e.error)));
  const kubectl = path.join(inventory.dir, 'artifacts', 'kubectl');
  assert.equal((await stat(kubectl)).mode & 0o777, 0o755);
  const cached = (await artifacts).filesFor('node1', 'kubectl')[0]!;
  assert.deepEqual(await readFile(kubectl), await readFile(cached.cachePath));
  await assert.rejects(stat(path.join(inventory.dir, 'artifacts', 'admin.conf')), /ENOENT/);
});

test('kubernetes_audit writes the audit policy kube-apiserver reads and makes its log directory', async (t) => {
  const { inventory, fleet, artifacts } = await setup(t, { kubernetes_audit: true });
  const run = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole, controlPlaneRole], fleet, run: testRun(inventory, artifacts) });
  assert.equal(run.result.status, 'ok', JSON.stringify(run.of('host:finish').map((e) => e.error)));
  for (const m of fleet.machines.values()) {
    assert.match(m.files.get('/etc/kubernetes/audit-policy/apiserver-audit-policy.yaml')!.content.toString(), /^kind: Policy$/m);
    assert.equal(m.dirs.get('/var/log/audit')!.mode, 0o700);
  }
});
