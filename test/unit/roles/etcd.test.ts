/**
 * The etcd role: its rendered files for a 3-member cluster, the new/existing bootstrap decision,
 * and whole runs through the engine on fake hosts (first run, no-op re-run, a joining member).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pkiInputFromTopology } from '../../../src/cluster/pki.js';
import { buildTopology, type EtcdMember } from '../../../src/cluster/topology.js';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import { planCertificates } from '../../../src/pki/index.js';
import { etcdRole } from '../../../src/roles/etcd/index.js';
import { etcdTlsFiles, renderEtcdFiles } from '../../../src/roles/etcd/config.js';
import { decideMembership } from '../../../src/roles/etcd/membership.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { runYaml } from '../engine/playbook-harness.js';
import { clusterScript, fakeArtifacts, loadTestInventory, testRun, type FakeClusterState } from '../cluster/test-cluster.js';

const PLAYBOOK = '- name: etcd\n  hosts: etcd\n  roles: [etcd]\n';

test('a 3-member cluster: env file and unit as Kubespray writes them, checked against etcd\'s flags', async (t) => {
  for (const version of ['v3.2.24', 'v3.4.23']) {
    const inventory = await loadTestInventory(t, { vars: { etcd_version: version, etcd_cert_dir: '/etc/etcd/pki' } });
    const topology = buildTopology(inventory);
    const plan = planCertificates(pkiInputFromTopology(topology));
    const member = topology.etcd[1]!;
    const { env, unit } = renderEtcdFiles({ render: createTemplateRenderer(), run: testRun(inventory) }, member, etcdTlsFiles(plan, 'node2'), {
      state: 'new',
      initialCluster: topology.etcdInitialCluster,
    });
    const vars = new Map(env.split('\n').filter((l) => /^[A-Z]/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(vars.get('ETCD_NAME'), 'node2');
    assert.equal(vars.get('ETCD_DATA_DIR'), '/var/lib/etcd');
    assert.equal(vars.get('ETCD_ADVERTISE_CLIENT_URLS'), 'https://10.10.0.2:2379');
    assert.equal(vars.get('ETCD_INITIAL_ADVERTISE_PEER_URLS'), 'https://10.10.0.2:2380');
    assert.equal(vars.get('ETCD_LISTEN_CLIENT_URLS'), 'https://10.10.0.2:2379,https://127.0.0.1:2379');
    assert.equal(vars.get('ETCD_LISTEN_PEER_URLS'), 'https://10.10.0.2:2380');
    assert.equal(vars.get('ETCD_INITIAL_CLUSTER'), 'node1=https://10.10.0.1:2380,node2=https://10.10.0.2:2380,node3=https://10.10.0.3:2380');
    assert.equal(vars.get('ETCD_INITIAL_CLUSTER_STATE'), 'new');
    assert.equal(vars.get('ETCD_INITIAL_CLUSTER_TOKEN'), 'k8s_etcd');
    assert.equal(vars.get('ETCD_CLIENT_CERT_AUTH'), 'true');
    assert.equal(vars.get('ETCD_PEER_CLIENT_CERT_AUTH'), 'true');
    assert.equal(vars.get('ETCD_TRUSTED_CA_FILE'), '/etc/etcd/pki/ca.crt');
    assert.equal(vars.get('ETCD_CERT_FILE'), '/etc/etcd/pki/server.crt');
    assert.equal(vars.get('ETCD_KEY_FILE'), '/etc/etcd/pki/server.key');
    assert.equal(vars.get('ETCD_PEER_CERT_FILE'), '/etc/etcd/pki/peer.crt');
    assert.equal(vars.get('ETCD_PEER_KEY_FILE'), '/etc/etcd/pki/peer.key');
    assert.match(unit, /^Type=notify$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^EnvironmentFile=\/etc\/etcd\.env$/m);
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/etcd$/m);
    assert.match(unit, new RegExp(`^Description=etcd ${version.replace(/\./g, '\\.')} \\(member node2\\)$`, 'm'));
  }
});

const member = (n: number): EtcdMember => {
  const ip = `10.10.0.${n}`;
  return { name: `node${n}`, peerUrl: `https://${ip}:2380`, clientUrl: `https://${ip}:2379`, host: { name: `node${n}` } as EtcdMember['host'] };
};
const members = [member(1), member(2), member(3)];
const everyone = 'node1=https://10.10.0.1:2380,node2=https://10.10.0.2:2380,node3=https://10.10.0.3:2380';

test('bootstrap decision: new when nobody answers, existing (with member add) when a cluster does', () => {
  assert.deepEqual(decideMembership(members[0]!, members, { hasData: false, currentState: undefined, listed: undefined }), {
    state: 'new', initialCluster: everyone, add: false, reason: 'no other member answers: bootstrapping a new cluster',
  });
  // A member with data keeps what it was set up with; the file stays stable.
  assert.equal(decideMembership(members[2]!, members, { hasData: true, currentState: 'existing', listed: undefined }).state, 'existing');
  assert.equal(decideMembership(members[2]!, members, { hasData: true, currentState: undefined, listed: undefined }).state, 'new');
  // …its initial cluster too: a member joining elsewhere (scale.yml) rewrites nothing here.
  const before = 'node1=https://10.10.0.1:2380,node3=https://10.10.0.3:2380';
  assert.equal(decideMembership(members[2]!, members, { hasData: true, currentState: 'existing', currentInitialCluster: before, listed: undefined }).initialCluster, before);
  assert.equal(decideMembership(members[2]!, members, { hasData: true, currentState: 'existing', listed: undefined }).initialCluster, everyone);
  // node3 is missing from a running 2-member cluster: added, then joins.
  const running = [{ name: 'node1', peerUrls: ['https://10.10.0.1:2380'], clientUrls: [] }, { name: 'node2', peerUrls: ['https://10.10.0.2:2380'], clientUrls: [] }];
  assert.deepEqual(decideMembership(members[2]!, members, { hasData: false, currentState: undefined, listed: running }), {
    state: 'existing', initialCluster: everyone, add: true, reason: 'joining the running cluster as a new member',
  });
  // Already added (unstarted, no name yet): no second add.
  const added = [...running, { name: '', peerUrls: ['https://10.10.0.3:2380'], clientUrls: [] }];
  assert.equal(decideMembership(members[2]!, members, { hasData: false, currentState: undefined, listed: added }).add, false);
  // A 4th inventory host not in the cluster is left out; a cluster member unknown to the inventory is kept.
  const four = [...members, member(4)];
  const withStranger = [...running, { name: 'old', peerUrls: ['https://10.10.0.9:2380'], clientUrls: [] }];
  assert.equal(
    decideMembership(four[2]!, four, { hasData: false, currentState: undefined, listed: withStranger }).initialCluster,
    'node1=https://10.10.0.1:2380,node2=https://10.10.0.2:2380,node3=https://10.10.0.3:2380,old=https://10.10.0.9:2380',
  );
});

async function setup(t: Parameters<typeof loadTestInventory>[0]) {
  const inventory = await loadTestInventory(t);
  const fleet = new FakeFleet(inventory.hosts.map((h) => h.name));
  const state: FakeClusterState = { added: [], unhealthy: new Set() };
  for (const m of fleet.machines.values()) m.script = clusterScript(state);
  const artifacts = Promise.resolve(await fakeArtifacts(t));
  const newRun = (options: { dryRun?: boolean } = {}) => testRun(inventory, artifacts, options);
  return { inventory, fleet, state, newRun };
}

test('a run: binaries, TLS files, data dir, env file and unit, every member started without waiting; then a no-op', async (t) => {
  const { inventory, fleet, newRun } = await setup(t);
  const first = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole], fleet, run: newRun() });
  assert.equal(first.result.status, 'ok', JSON.stringify(first.of('host:finish').map((e) => e.error)));
  const tasks = first.of('host:tasks')[0]!.tasks.map((x) => x.name);
  assert.deepEqual(tasks, [
    'etcd binary', 'etcdctl binary',
    'directory /etc/ssl/etcd/ssl',
    'pki /etc/ssl/etcd/ssl/ca.crt', 'pki /etc/ssl/etcd/ssl/healthcheck-client.crt', 'pki /etc/ssl/etcd/ssl/healthcheck-client.key',
    'pki /etc/ssl/etcd/ssl/peer.crt', 'pki /etc/ssl/etcd/ssl/peer.key', 'pki /etc/ssl/etcd/ssl/server.crt', 'pki /etc/ssl/etcd/ssl/server.key',
    'directory /var/lib/etcd', 'etcd membership of node1', 'file /etc/etcd.env', 'file /etc/systemd/system/etcd.service', 'no etcd static pod',
    'start etcd.service', 'wait until the etcd member is healthy',
    'no scheduled etcd snapshots (etcd_backup_schedule unset)',
  ]);
  for (const m of fleet.machines.values()) {
    assert.equal(m.dirs.get('/var/lib/etcd')!.mode, 0o700);
    assert.match(m.files.get('/etc/etcd.env')!.content.toString(), /^ETCD_INITIAL_CLUSTER_STATE=new$/m);
    assert.ok(m.calls.some((c) => c.argv?.join(' ') === 'systemctl start --no-block -- etcd.service'), `${m.name}: started without blocking`);
    assert.deepEqual(m.restarts, [], 'a unit this run started is not restarted again');
  }
  // The PKI was issued once, under the inventory.
  assert.deepEqual((await newRun().pki()).report.reissued, []);

  for (const m of fleet.machines.values()) m.mkdirs('/var/lib/etcd/member');
  const again = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole], fleet, run: newRun() });
  assert.deepEqual(again.result.recap.map((r) => r.changed), [0, 0, 0]);
  assert.deepEqual(again.of('handler:start'), []);
  for (const m of fleet.machines.values()) assert.equal(m.bytesUploaded > 0, true);
});

test('a changed certificate restarts the members one at a time, each healthy before the next', async (t) => {
  const { inventory, fleet, newRun } = await setup(t);
  await runYaml(PLAYBOOK, { inventory, roles: [etcdRole], fleet, run: newRun() });
  for (const m of fleet.machines.values()) {
    m.mkdirs('/var/lib/etcd/member');
    m.files.get('/etc/ssl/etcd/ssl/server.crt')!.content = Buffer.from('stale\n');
  }
  const run = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole], fleet, run: newRun() });
  assert.equal(run.result.status, 'ok');
  const order = run.events.filter((e) => e.type === 'handler:start' || e.type === 'handler:finish').map((e) => `${e.type}:${'host' in e ? e.host : ''}`);
  assert.deepEqual(order, ['handler:start:node1', 'handler:finish:node1', 'handler:start:node2', 'handler:finish:node2', 'handler:start:node3', 'handler:finish:node3']);
  for (const m of fleet.machines.values()) assert.deepEqual(m.restarts.map((r) => r.unit), ['etcd.service']);
});

test('a member without data joins a running cluster: member add, then state existing', async (t) => {
  const { inventory, fleet, state, newRun } = await setup(t);
  state.members = [
    { name: 'node1', peerURLs: ['https://10.10.0.1:2380'] },
    { name: 'node2', peerURLs: ['https://10.10.0.2:2380'] },
  ];
  const run = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole], fleet, run: newRun(), limit: 'node3' });
  assert.equal(run.result.status, 'ok', JSON.stringify(run.of('host:finish').map((e) => e.error)));
  assert.deepEqual(state.added, [['node3', 'node3', 'https://10.10.0.3:2380']]);
  const env = fleet.machine('node3').files.get('/etc/etcd.env')!.content.toString();
  assert.match(env, /^ETCD_INITIAL_CLUSTER_STATE=existing$/m);
  assert.match(env, /^ETCD_INITIAL_CLUSTER=node1=https:\/\/10\.10\.0\.1:2380,node2=https:\/\/10\.10\.0\.2:2380,node3=https:\/\/10\.10\.0\.3:2380$/m);
  const add = run.of('task:finish').find((e) => e.task === 'etcd membership of node3')!;
  assert.match(add.changes[0]!.summary, /^etcdctl member add node3 --peer-urls=https:\/\/10\.10\.0\.3:2380 \(joining the running cluster/);
});

test('two new members of one run join one at a time: the second waits for the first to start, and names it', async (t) => {
  const { inventory, fleet, state, newRun } = await setup(t);
  state.members = [{ name: 'node1', peerURLs: ['https://10.10.0.1:2380'] }];
  state.started = (peer) => fleet.machine(`node${peer.split('.')[3]!.split(':')[0]}`).units.get('etcd.service')?.active === true;
  const run = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole], fleet, run: newRun(), limit: 'node2,node3' });
  assert.equal(run.result.status, 'ok', JSON.stringify(run.of('host:finish').map((e) => e.error)));
  assert.deepEqual(state.added.map(([, name]) => name).sort(), ['node2', 'node3']);
  const [first, second] = state.added.map(([, name]) => name);
  const cluster = (host: string) => /^ETCD_INITIAL_CLUSTER=(.*)$/m.exec(fleet.machine(host).files.get('/etc/etcd.env')!.content.toString())?.[1];
  assert.equal(cluster(first!), `node1=https://10.10.0.1:2380,${first}=https://10.10.0.${first!.slice(4)}:2380`, 'the first joins the running member');
  assert.equal(cluster(second!), everyone, 'the second names the first, which had started');
});

test('a member whose etcd dies fails the play with its unit\'s status and journal, not a retry count', async (t) => {
  const { inventory, fleet, state, newRun } = await setup(t);
  state.unhealthy.add('node2');
  const run = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole], fleet, run: newRun(), limit: 'node2' });
  assert.equal(run.result.status, 'failed');
  const failure = run.of('host:finish').find((e) => e.host === 'node2')!.error!;
  assert.equal(failure.message, 'etcd.service failed');
  assert.match(failure.hint ?? '', /journalctl -u etcd\.service/);
  assert.ok(failure.output?.some((l) => /Active:/.test(l)), JSON.stringify(failure));
});

test('a dry run writes nothing on hosts or under the inventory', async (t) => {
  const { inventory, fleet, newRun } = await setup(t);
  const run = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole], fleet, run: newRun({ dryRun: true }), dryRun: true });
  assert.equal(run.result.status, 'ok', JSON.stringify(run.of('host:finish').map((e) => e.error)));
  // The fake counts commands it does not know as changes; the membership probe only reads.
  const readOnly = (argv: readonly string[] = []) => argv[3] === 'kprov-etcd-facts';
  for (const m of fleet.machines.values()) assert.deepEqual(m.mutatingCalls().filter((c) => !readOnly(c.argv)), []);
  assert.ok(run.of('task:finish').some((e) => e.task === 'file /etc/etcd.env' && e.status === 'changed'));
  await assert.rejects(import('node:fs/promises').then((fs) => fs.stat(`${inventory.dir}/pki`)), /ENOENT/);
});

test('etcd_backup_schedule: a timer on every member keeping etcd_backup_keep snapshots; unset again, it is removed', async (t) => {
  const inventory = await loadTestInventory(t, { vars: { etcd_backup_schedule: '*-*-* 03:00:00', etcd_backup_keep: 3 } });
  const fleet = new FakeFleet(inventory.hosts.map((h) => h.name));
  const state: FakeClusterState = { added: [], unhealthy: new Set() };
  for (const m of fleet.machines.values()) m.script = clusterScript(state);
  const artifacts = Promise.resolve(await fakeArtifacts(t));
  const r = await runYaml(PLAYBOOK, { inventory, roles: [etcdRole], fleet, run: testRun(inventory, artifacts) });
  assert.equal(r.result.status, 'ok', JSON.stringify(r.of('host:finish').map((e) => e.error)));
  for (const m of fleet.machines.values()) {
    assert.match(m.files.get('/etc/systemd/system/kprov-etcd-backup.timer')!.content.toString(), /^OnCalendar=\*-\*-\* 03:00:00$/m);
    const script = m.files.get('/usr/local/bin/kprov-etcd-backup')!;
    assert.equal(script.mode, 0o755);
    assert.match(script.content.toString(), /--cert=\/etc\/ssl\/etcd\/ssl\/healthcheck-client\.crt/);
    assert.match(script.content.toString(), /head -n -3 /);
    assert.ok(m.units.get('kprov-etcd-backup.timer')?.enabled, `${m.name}: the timer is enabled`);
  }
  // The schedule removed from the inventory: the next run takes the timer away (the fake
  // hosts run the removal script's rm on their files).
  const removals: string[] = [];
  for (const m of fleet.machines.values()) {
    m.script = (argv, machine) => {
      if (argv[0] === 'sh' && argv[2]?.includes('systemctl disable --now kprov-etcd-backup.timer')) {
        for (const p of argv.slice(4)) machine.files.delete(p);
        removals.push(machine.name);
        return { code: 0, stdout: '', stderr: '' };
      }
      return clusterScript(state)(argv, machine);
    };
  }
  const plain = await loadTestInventory(t);
  const off = await runYaml(PLAYBOOK, { inventory: plain, roles: [etcdRole], fleet, run: testRun(plain, artifacts) });
  assert.equal(off.result.status, 'ok', JSON.stringify(off.of('host:finish').map((e) => e.error)));
  assert.deepEqual(removals.sort(), [...fleet.machines.keys()].sort());
  for (const m of fleet.machines.values()) assert.equal(m.files.has('/etc/systemd/system/kprov-etcd-backup.timer'), false);
  const quiet = await runYaml(PLAYBOOK, { inventory: plain, roles: [etcdRole], fleet, run: testRun(plain, artifacts) });
  assert.equal(removals.length, fleet.machines.size, 'nothing left to remove the next time');
  assert.equal(quiet.result.status, 'ok');
});
