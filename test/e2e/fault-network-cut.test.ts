/**
 * Fault: a control-plane host's network is cut in the middle of its rolling restart. On a 3-host
 * lab (each host control plane + etcd + node):
 *   1. a cluster is applied with kube_log_level 2;
 *   2. kube_log_level becomes 3 and `kprov apply cluster` runs; when the run log shows
 *      `handler:start restart kube-apiserver` on node2 (node1 has restarted, node3 waits), node2's
 *      link to the lab bridge goes down (its veth, in the lab namespace: packets are dropped, no
 *      reset is ever sent). The run must end by itself, bounded by the SSH keepalive, exit 1
 *      naming node2; the restarts it owes stay recorded on the hosts;
 *   3. the link comes back; the next apply restarts what is owed, and afterwards every
 *      control-plane process and kubelet runs its unit file's command line (--v=3), every node is
 *      Ready (real kubectl), every etcd member healthy (real etcdctl);
 *   4. a third apply changes nothing.
 * Times are printed (`measured:`) for docs/reliability.md.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { pinVariables, startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import { kprovBin } from '../../dev/lab-hosts.js';
import type { RunEvent } from '../../src/engine/events.js';
import { readLabState } from '../../src/lab/state.js';
import { labSkipReason } from '../support/lab.js';
import { jsonEvents, runLog, startKprov, waitFor, type KprovProcess } from '../support/kprov-process.js';
import { eventsOf } from '../support/run-events.js';
import { commandLineMismatch, unitCommandLine } from '../support/unit-cmdline.js';
import { assertNodesReadyAndEtcdHealthy } from '../support/converged.js';

const NAME = 'e2e-fcut';
const HOSTS = ['node1', 'node2', 'node3'];
const CUT = 'node2';
const CONTROL_PLANE = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const RUN_TIMEOUT_MS = 600_000;
/**
 * SSH keepalive (a ping every 5 s, the 4th unanswered closes: ≤ 20 s), the one reconnect attempt
 * (≤ 10 s), the other hosts' steps under way: under this, and under the 90 s health waits, which
 * must not keep polling a host that is gone.
 */
const CUT_BOUND_MS = 60_000;

const of = eventsOf;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const loadavg = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');

interface Applied {
  code: number;
  events: RunEvent[];
  ms: number;
  output: string;
}

describe('fault: a control-plane host\'s network cut during its restart', { skip: labSkipReason(), concurrency: false }, () => {
  let lab: ClusterLab;
  let veth: string;
  let cutRun: KprovProcess | undefined;
  const measured: string[] = [];

  before(async () => {
    lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
    const host = (await readLabState(NAME))?.hosts.find((h) => h.name === CUT);
    assert.ok(host, `the lab state records ${CUT}`);
    veth = host.veth;
  });
  after(async () => {
    await cutRun?.cleanup();
    await lab?.stop();
    for (const line of measured) console.log(`measured: ${line}`);
  });

  /** The bridge side of the host's veth pair, in the lab namespace: the host's only way out. */
  async function link(state: 'up' | 'down'): Promise<void> {
    const r = await lab.inLab(['ip', 'link', 'set', veth, state], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
  }

  async function kprov(args: string[]): Promise<Applied> {
    const started = Date.now();
    const r = await lab.inLab([process.execPath, kprovBin, ...args, '-i', lab.inventoryDir, '--json'], { timeoutMs: RUN_TIMEOUT_MS });
    return { code: r.code, events: jsonEvents(r.stdout), ms: Date.now() - started, output: `${r.stdout.slice(-3000)}\n${r.stderr}` };
  }

  async function sh(host: string, script: string): Promise<string> {
    const r = await lab.exec(host, ['sh', '-c', script], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `${host}: ${script}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  const records = async (host: string) => (await sh(host, 'ls -A /var/lib/kprov/pending')).trim().split('\n').filter(Boolean).map(decodeURIComponent);

  test('a cluster at kube_log_level 2', { timeout: RUN_TIMEOUT_MS }, async () => {
    await pinVariables(lab.inventoryDir, { kube_log_level: '2' });
    const first = await kprov(['apply', 'cluster']);
    assert.equal(first.code, 0, first.output);
    measured.push(`fresh apply of the 3-host lab: ${seconds(first.ms)} (load ${await loadavg()})`);
  });

  test(`${CUT}'s link cut at "restart kube-apiserver" there: the run ends by itself, exit 1 naming ${CUT}`, { timeout: RUN_TIMEOUT_MS }, async () => {
    await pinVariables(lab.inventoryDir, { kube_log_level: '3' });
    const run = startKprov(['apply', 'cluster', '-i', lab.inventoryDir]);
    cutRun = run;
    await waitFor(`handler:start restart kube-apiserver on ${CUT}`, 300_000, async () => {
      const events = await runLog(lab.inventoryDir);
      const first = events[0];
      return first !== undefined && Date.parse(first.time) >= run.started - 1000 && events.some((e) => e.type === 'handler:start' && e.host === CUT && e.handler === 'restart kube-apiserver');
    });
    await link('down');
    const cutAt = Date.now();
    const exit = await run.exit(CUT_BOUND_MS + 60_000);
    const afterCut = Date.now() - cutAt;
    await link('up');
    measured.push(`apply with kube_log_level 3, ${CUT}'s link cut at handler:start restart kube-apiserver after ${seconds(cutAt - run.started)}: the run ended ${seconds(afterCut)} after the cut, exit ${exit.code} (load ${await loadavg()})`);
    console.log(run.stdout.split('\n').filter((l) => /^(LEFT|FAILED|UNREACHABLE|node\d|  +(done|not done|handlers))/.test(l)).join('\n'));
    const events = await runLog(lab.inventoryDir);
    const failure = [...of(events, 'handler:finish'), ...of(events, 'host:finish')].find((e) => e.host === CUT && e.error);
    const finish = of(events, 'run:finish')[0];
    const why = failure?.error?.message ?? '';
    if (failure) measured.push(`${CUT} failed ${seconds(Date.parse(failure.time) - cutAt)} after the cut: ${why}`);
    if (finish) measured.push(`run:finish ${seconds(Date.parse(finish.time) - cutAt)} after the cut`);

    assert.equal(exit.code, 1, `${run.stdout.slice(-4000)}\n${run.stderr}`);
    assert.ok(afterCut < CUT_BOUND_MS, `bounded by the SSH keepalive and the one reconnect: ${afterCut} ms (${why})`);
    assert.ok(finish, 'the run log ends with run:finish');
    assert.equal(finish.status, 'failed');
    const broken = finish.recap.filter((r) => r.failed > 0 || r.unreachable > 0).map((r) => r.host);
    assert.deepEqual(broken, [CUT], JSON.stringify(finish.recap));
    assert.match(why, /connection lost|connection was lost|Keepalive timeout/, JSON.stringify(failure));
    assert.ok(finish.leftBehind.some((h) => h.host === CUT), JSON.stringify(finish.leftBehind));
    assert.match(run.stdout, new RegExp(`^${CUT} +(failed|unreachable) at Control plane`, 'm'));

    // node3 never got its turn: its restarts are owed, and recorded on it.
    const owed = await records('node3');
    assert.ok(owed.includes('restart kube-apiserver'), `node3 owes its apiserver restart: ${owed.join(', ')}`);
    const total = (await Promise.all(HOSTS.map(records))).flat().length;
    measured.push(`restarts recorded as owed after the cut: ${total} (node3: ${owed.join(', ')})`);
  });

  test('with the link back, the next apply restarts what is owed; every process runs its unit file; a third apply changes nothing', { timeout: RUN_TIMEOUT_MS * 2 }, async () => {
    // The host answers again (bounded: the bridge forwards as soon as the port is up).
    const address = lab.hosts.find((h) => h.name === CUT)!.address;
    const probe = `require('net').connect(22, '${address}').on('connect', () => process.exit(0)).on('error', () => process.exit(1)); setTimeout(() => process.exit(2), 1000);`;
    await waitFor(`${CUT}'s sshd`, 30_000, async () => (await lab.inLab([process.execPath, '-e', probe], { timeoutMs: 5_000 })).code === 0);

    const resumed = await kprov(['apply', 'cluster']);
    assert.equal(resumed.code, 0, resumed.output);
    const pending = of(resumed.events, 'task:finish').filter((e) => e.task.startsWith('pending: ') && e.status === 'changed');
    assert.ok(pending.some((e) => e.host === 'node3' && e.task === 'pending: restart kube-apiserver'), JSON.stringify(pending.map((e) => `${e.host} ${e.task}`)));
    const restarted = of(resumed.events, 'handler:finish').filter((e) => e.status === 'changed');
    for (const e of pending) {
      const handler = e.task.replace(/^pending: /, '');
      assert.ok(restarted.some((r) => r.host === e.host && r.handler === handler), `${e.host}: ${handler} ran`);
    }
    measured.push(`re-apply with the link back: ${seconds(resumed.ms)}, exit 0, ${pending.length} owed restarts run (${pending.map((e) => `${e.host} ${e.task.replace(/^pending: restart /, '')}`).join(', ')}) (load ${await loadavg()})`);

    for (const host of HOSTS) {
      assert.deepEqual(await records(host), [], `${host}: nothing owed any more`);
      for (const unit of [...CONTROL_PLANE, 'kubelet']) {
        const c = await unitCommandLine(lab, host, unit);
        assert.equal(commandLineMismatch(c), undefined, `${host} ${unit}`);
        assert.ok(c.running.includes('--v=3'), `${host} ${unit}: ${c.running.join(' ')}`);
      }
    }
    await assertNodesReadyAndEtcdHealthy(lab, { nodes: HOSTS, kubectlHost: 'node1', etcdHost: 'node3', etcdMembers: 3 });

    const third = await kprov(['apply', 'cluster']);
    assert.equal(third.code, 0, third.output);
    assert.deepEqual(of(third.events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host}: ${e.task}`), []);
    assert.deepEqual(third.events.filter((e) => e.type.startsWith('handler')), []);
    measured.push(`third apply (no changes, no restarts): ${seconds(third.ms)}`);
  });
});
