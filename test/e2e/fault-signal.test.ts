/**
 * Fault: a signal to kprov's PID in the middle of a run, as `timeout`, systemd and CI runners send
 * it. With a lab inventory kprov re-executes itself inside the lab's namespace, so the PID they
 * signal is the parent of the process doing the work. On a fresh 3-host lab, in order:
 *   1. SIGTERM to the parent during the container-runtime play: the child stops too (no kprov
 *      process left, checked in /proc), exit 130, the run log ends with run:finish interrupted,
 *      the output says per host what is left, every lock is released;
 *   2. the next apply converges (real etcdctl and kubectl);
 *   3. two SIGTERMs during rolling restarts: exit 130 at once with the inventory lock removed;
 *      the host locks left behind are taken over by the next apply, which converges;
 *   4. SIGKILL to the working process (a crash): both locks stay; the next apply takes them over
 *      with a warning each and converges.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pinVariables, startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import type { RunEvent } from '../../src/engine/events.js';
import { labSkipReason } from '../support/lab.js';
import { descendants, jsonEvents, kprovProcesses, runLog, startKprov, waitFor, type KprovProcess } from '../support/kprov-process.js';
import { eventsOf } from '../support/run-events.js';
import { ETCD_TLS, HOST_KUBECTL } from '../support/converged.js';

const NAME = 'e2e-fsig';
const HOSTS = ['node1', 'node2', 'node3'];
// The host's kubectl as one shell word list, for `sh -c` scripts.
const KUBECTL = HOST_KUBECTL.join(' ');

const of = eventsOf;

describe('signals and crashes in the middle of a run', { skip: labSkipReason(), concurrency: false, timeout: 900_000 }, () => {
  let lab: ClusterLab;
  const started: KprovProcess[] = [];

  before(async () => {
    lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
  });
  after(async () => {
    for (const p of started) await p.cleanup();
    await lab?.stop();
  });

  const apply = (extra: string[] = []) => {
    const p = startKprov(['apply', 'cluster', '-i', lab.inventoryDir, ...extra]);
    started.push(p);
    return p;
  };
  const lockFile = () => path.join(lab.inventoryDir, '.kprov.lock');

  async function sh(host: string, script: string): Promise<string> {
    const r = await lab.exec(host, ['sh', '-c', script], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${host}: ${script}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  async function hostLocks(): Promise<string[]> {
    const out: string[] = [];
    for (const h of HOSTS) if ((await lab.exec(h, ['test', '-e', '/run/kprov.lock'])).code === 0) out.push(h);
    return out;
  }

  /** The run re-executed in the lab namespace: the parent's descendant running bin/kprov.js. */
  async function workerOf(parent: KprovProcess): Promise<number> {
    let found: number | undefined;
    await waitFor('the re-executed kprov', 20_000, async () => {
      for (const pid of await descendants(parent.pid)) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmdline.split('\0').some((a) => a.endsWith('kprov.js'))) found = pid;
      }
      return found !== undefined;
    });
    return found!;
  }

  /** Waits (bounded) until the run log of the run `run` started has an event that `match` accepts. */
  async function untilLogged(run: KprovProcess, what: string, match: (e: RunEvent) => boolean): Promise<void> {
    await waitFor(what, 240_000, async () => {
      const events = await runLog(lab.inventoryDir);
      const first = events[0];
      // The newest log, once it is this run's (the previous runs' logs are older).
      return first !== undefined && Date.parse(first.time) >= run.started - 1000 && events.some(match);
    });
  }

  /** Signals a process that must still be there. */
  function signal(pid: number, sig: NodeJS.Signals): void {
    assert.doesNotThrow(() => process.kill(pid, sig), `pid ${pid} is still running to receive ${sig}`);
  }

  async function converges(): Promise<RunEvent[]> {
    const run = apply(['--json']);
    const exit = await run.exit(400_000);
    assert.equal(exit.code, 0, `${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
    const endpoints = `--endpoints=${lab.addresses.map((x) => `https://${x}:2379`).join(',')}`;
    const health = await lab.exec('node1', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, endpoints, 'endpoint', 'health'], { timeoutMs: 60_000 });
    assert.equal(`${health.stdout}${health.stderr}`.match(/is healthy/g)?.length, 3, `${health.stdout}${health.stderr}`);
    const nodes = await sh('node3', `${KUBECTL} get nodes --no-headers`);
    assert.deepEqual(nodes.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort(), HOSTS.map((h) => `${h} Ready`));
    assert.equal(existsSync(lockFile()), false);
    assert.deepEqual(await hostLocks(), []);
    return jsonEvents(run.stdout);
  }

  test('SIGTERM to kprov\'s PID: the re-executed run stops too, exit 130, run:finish interrupted, locks released', async () => {
    const run = apply();
    const worker = await workerOf(run);
    assert.notEqual(worker, run.pid);
    await untilLogged(run, 'the container runtime play', (e) => e.type === 'task:start' && e.play === 'Container runtime');
    const signalled = Date.now();
    signal(run.pid, 'SIGTERM');
    const exit = await run.exit(90_000);
    const stopMs = Date.now() - signalled;
    console.log(`SIGTERM → exit ${exit.code} in ${(stopMs / 1000).toFixed(1)} s`);
    assert.equal(exit.code, 130, `${run.stdout.slice(-3000)}\n${run.stderr}`);
    assert.ok(stopMs < 45_000, `bounded by the 30 s grace: ${stopMs} ms`);

    assert.equal(existsSync(`/proc/${worker}`), false, `the re-executed kprov (pid ${worker}) is gone`);
    assert.deepEqual(await kprovProcesses(lab.inventoryDir), [], 'no kprov process is left');
    assert.match(run.stderr, /^kprov: signal to kprov: stopping: no new task starts, steps under way get up to 30 s; send it again to stop at once$/m);

    const events = await runLog(lab.inventoryDir);
    const last = events.at(-1)!;
    assert.ok(last.type === 'run:finish', `the last event is ${last.type}`);
    assert.equal(last.status, 'interrupted');
    assert.equal(last.stopped, 'interrupted (signal to kprov)');
    assert.ok(events.every((e) => e.runId === last.runId));
    assert.deepEqual(of(events, 'play:skip').map((e) => e.play).slice(-5), ['etcd', 'Control plane', 'Nodes', 'Cluster DNS (CoreDNS add-on)', 'Verify the cluster']);
    assert.deepEqual(last.leftBehind.map((h) => h.host), HOSTS);
    for (const h of last.leftBehind) assert.ok(h.pending.includes('etcd') && h.done.includes('Facts and preflight checks'), JSON.stringify(h));
    assert.match(run.stdout, /^LEFT FOR THE NEXT RUN \(3 hosts\)$/m);
    assert.match(run.stdout, /^INTERRUPTED: interrupted \(signal to kprov\)/m);
    console.log(run.stdout.split('\n').filter((l) => /^(LEFT|node\d|  +(done|not done|handlers)|INTERRUPTED|STOPPING)/.test(l)).join('\n'));

    assert.equal(existsSync(lockFile()), false, 'the inventory lock is released');
    assert.deepEqual(await hostLocks(), [], 'every host lock is released');
  });

  test('the next apply converges', async () => {
    const events = await converges();
    assert.equal(of(events, 'run:finish')[0]!.status, 'ok');
  });

  test('a second SIGTERM exits at once without the inventory lock; the next apply takes over the host locks', async () => {
    await pinVariables(lab.inventoryDir, { kube_log_level: '4' });
    const run = apply();
    await untilLogged(run, 'the rolling restarts', (e) => e.type === 'handler:start');
    signal(run.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const second = Date.now();
    signal(run.pid, 'SIGTERM');
    const exit = await run.exit(30_000);
    const ms = Date.now() - second;
    console.log(`second SIGTERM → exit ${exit.code} in ${ms} ms`);
    assert.equal(exit.code, 130, run.stderr);
    assert.ok(ms < 5_000, `at once: ${ms} ms`);
    assert.match(run.stderr, /^kprov: signal to kprov again: stopping at once/m);
    assert.deepEqual(await kprovProcesses(lab.inventoryDir), []);
    assert.equal(existsSync(lockFile()), false, 'the inventory lock was removed before exiting');
    const left = await hostLocks();
    assert.ok(left.length > 0, 'host locks stay behind');

    const events = await converges();
    const takeovers = of(events, 'warning').filter((w) => /^took over \/run\/kprov\.lock: run [0-9a-f]{8} \(pid \d+ on \S+, kprov apply cluster\) is gone$/.test(w.message));
    assert.deepEqual(takeovers.map((w) => w.host).sort(), left);
  });

  test('a crash (SIGKILL) leaves both locks; the next apply takes them over with a warning each and converges', async () => {
    await pinVariables(lab.inventoryDir, { kube_log_level: '3' });
    const run = apply();
    const worker = await workerOf(run);
    await untilLogged(run, 'the rolling restarts', (e) => e.type === 'handler:start');
    signal(worker, 'SIGKILL');
    const exit = await run.exit(30_000);
    assert.equal(exit.code, 137, 'the parent reports its child killed by SIGKILL');
    assert.ok(existsSync(lockFile()), 'the inventory lock stays behind');
    const held = JSON.parse(await readFile(lockFile(), 'utf8')) as { pid: number; runId: string };
    assert.equal(held.pid, worker);
    const left = await hostLocks();
    assert.ok(left.length > 0);

    const events = await converges();
    const warnings = of(events, 'warning').map((w) => `${w.host ?? '-'} ${w.message}`);
    assert.ok(warnings.includes(`- took over ${lockFile()}: run ${held.runId} (pid ${worker}, kprov apply cluster) is gone`), warnings.join('\n'));
    for (const h of left) assert.ok(warnings.some((w) => w.startsWith(`${h} took over /run/kprov.lock: run ${held.runId} `)), `${h}: ${warnings.join('\n')}`);
  });
});
