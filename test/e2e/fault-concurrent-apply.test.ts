/**
 * Fault: two `kprov apply cluster` at once on one cluster (the issue "Every interruption
 * converges": two etcd CAs, both runs failing with `tls: bad certificate`). On a fresh 3-host lab
 * (each host control plane + etcd + node), started as a user starts them (from the root
 * namespace, so each re-executes itself in the lab's namespace):
 *   1. two applies at once: one is refused at once with exit 2 naming the holder, the other
 *      converges — one etcd CA, healthy members (real etcdctl), Ready nodes (real kubectl) —
 *      and no lock is left, in the inventory or on a host;
 *   2. a host held by a run of another control host: the apply stops, exits 2 naming it, changes
 *      nothing, leaves that lock alone and releases its own; without it, a re-apply changes nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import type { RunEvent } from '../../src/engine/events.js';
import { labSkipReason } from '../support/lab.js';
import { jsonEvents, startKprov, type KprovProcess } from '../support/kprov-process.js';
import { eventsOf } from '../support/run-events.js';
import { ETCD_TLS, HOST_KUBECTL as KUBECTL } from '../support/converged.js';

const NAME = 'e2e-fconc';
const HOSTS = ['node1', 'node2', 'node3'];

const of = eventsOf;

describe('two applies at once on one cluster', { skip: labSkipReason(), concurrency: false, timeout: 900_000 }, () => {
  let lab: ClusterLab;
  const started: KprovProcess[] = [];

  before(async () => {
    lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
  });
  after(async () => {
    // By PID, whatever happened: no kprov of this file outlives it.
    for (const p of started) await p.cleanup();
    await lab?.stop();
  });

  const apply = (extra: string[] = []) => {
    const p = startKprov(['apply', 'cluster', '-i', lab.inventoryDir, '--json', ...extra]);
    started.push(p);
    return p;
  };

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

  test('one is refused at once (exit 2, naming the holder), the other converges; no lock is left', async () => {
    const a = apply();
    const b = apply();
    const [ea, eb] = await Promise.all([a.exit(600_000), b.exit(600_000)]);
    const codes = [ea.code, eb.code].sort();
    assert.deepEqual(codes, [0, 2], `exit codes ${ea.code} and ${eb.code}\nA: ${a.stderr.slice(-2000)}\nB: ${b.stderr.slice(-2000)}`);
    const [winner, loser, loserExit, winnerExit] = ea.code === 0 ? [a, b, eb, ea] : [b, a, ea, eb];
    console.log(`refused after ${(loserExit.ms / 1000).toFixed(1)} s; the other converged in ${(winnerExit.ms / 1000).toFixed(1)} s`);
    assert.ok(loserExit.ms < 20_000, `refused at once (${loserExit.ms} ms, node start and the lab re-exec included)`);

    const lockFile = path.join(lab.inventoryDir, '.kprov.lock');
    const m = /^error: another kprov run holds (\S+): pid (\d+) on host (\S+) since \d\d:\d\d:\d\d UTC \(kprov apply cluster\)\n {2}wait for it to end, or stop it: kill \2 \(run ([0-9a-f]{8})\)\n$/.exec(loser.stderr);
    assert.ok(m, `the refusal names the holder:\n${loser.stderr}`);
    assert.equal(m[1], lockFile);
    assert.notEqual(Number(m[2]), winner.pid, 'the holder is the run re-executed in the lab namespace, not its parent');
    assert.equal(loser.stdout, '', 'the refused run printed no event');
    const events = jsonEvents(winner.stdout);
    assert.equal(m[4], events[0]!.runId, 'the holder named is the run that converged');
    const logs = await readdir(path.join(lab.inventoryDir, 'runs'));
    assert.deepEqual(logs.length, 1, `only the winner wrote a run log: ${logs.join(', ')}`);
    assert.ok(logs[0]!.endsWith(`-${m[4]}.jsonl`));
    assert.equal(of(events, 'run:finish')[0]!.status, 'ok');

    // One etcd CA on every host, three healthy members (the real etcdctl), three Ready nodes (the real kubectl).
    const cas = await Promise.all(HOSTS.map((h) => sh(h, 'sha256sum < /etc/ssl/etcd/ssl/ca.crt')));
    assert.equal(new Set(cas).size, 1, `one etcd CA: ${cas.join('')}`);
    const endpoints = `--endpoints=${lab.addresses.map((x) => `https://${x}:2379`).join(',')}`;
    const health = await lab.exec('node1', ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, endpoints, 'endpoint', 'health'], { timeoutMs: 60_000 });
    assert.equal(`${health.stdout}${health.stderr}`.match(/is healthy/g)?.length, 3, `${health.stdout}${health.stderr}`);
    const nodes = await sh('node2', `${KUBECTL.join(' ')} get nodes --no-headers`);
    assert.deepEqual(nodes.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort(), HOSTS.map((h) => `${h} Ready`));

    assert.equal(existsSync(lockFile), false, 'the inventory lock went with the run');
    assert.deepEqual(await hostLocks(), [], 'every host lock was released');
  });

  test('a host held by another control host\'s run: exit 2 naming it, nothing changed, only its lock left', async () => {
    const foreign = JSON.stringify({ runId: 'ffff0000', user: 'ops', host: 'ctl-elsewhere', pid: 4242, since: new Date().toISOString(), command: 'kprov apply cluster' });
    await sh('node2', `mkdir -m 0700 /run/kprov.lock && printf '%s\\n' '${foreign}' > /run/kprov.lock/owner`);
    const held = apply();
    const exit = await held.exit(300_000);
    assert.equal(exit.code, 2, held.stderr.slice(-3000));
    console.log(`refused by a host lock after ${(exit.ms / 1000).toFixed(1)} s`);
    assert.match(held.stderr, /^error: \[node2\] another kprov run holds \/run\/kprov\.lock on node2: pid 4242 on host ctl-elsewhere since \d\d:\d\d:\d\d UTC \(kprov apply cluster\)$/m);
    const events = jsonEvents(held.stdout);
    assert.deepEqual(of(events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host}: ${e.task}`), []);
    assert.equal(of(events, 'run:stop')[0]?.kind, 'refused');
    assert.deepEqual(await hostLocks(), ['node2'], 'ours released, theirs left');
    assert.equal((await sh('node2', 'cat /run/kprov.lock/owner')).trim(), foreign);

    await sh('node2', 'rm -r /run/kprov.lock');
    const again = apply();
    const againExit = await again.exit(300_000);
    assert.equal(againExit.code, 0, again.stderr.slice(-3000));
    const againEvents = jsonEvents(again.stdout);
    assert.deepEqual(of(againEvents, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host}: ${e.task}`), []);
    const finish = of(againEvents, 'run:finish')[0]!;
    console.log(`no-op re-apply with both locks: ${(againExit.ms / 1000).toFixed(1)} s process, ${(finish.durationMs / 1000).toFixed(1)} s run`);
    assert.deepEqual(await hostLocks(), []);
  });
});
