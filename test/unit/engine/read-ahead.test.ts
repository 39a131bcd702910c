/**
 * The engine's read-ahead: the script itself under a real sh (paths, hashes, probes, framing),
 * the per-play cache and what a change drops from it, and the point of it all: a host where
 * nothing differs costs one command per play, however many tasks check it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { newToken, parsePrefetch, prefetchArgv, probeKey, type PrefetchRequest } from '../../../src/engine/prefetch.js';
import { ReadCache } from '../../../src/engine/read-cache.js';
import { file, service, sysctl } from '../../../src/engine/tasks/index.js';
import type { Role } from '../../../src/engine/contract.js';
import { FakeFleet, FakeHost } from '../../../dev/fake-fleet.js';
import { answerReadAhead, isReadAhead } from './fake-read-ahead.js';
import { hostNames, makeInventory, runYaml } from './playbook-harness.js';

const run = promisify(execFile);
const sha = (data: string) => createHash('sha256').update(data).digest('hex');

test('the read-ahead script under a real sh: stats, hashes, missing paths, odd names, probes with their output intact', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-read-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const plain = path.join(dir, 'plain.txt');
  const odd = path.join(dir, 'we|ird name.txt');
  const empty = path.join(dir, 'empty');
  const sub = path.join(dir, 'sub');
  const link = path.join(dir, 'link');
  await writeFile(plain, 'hello\n', { mode: 0o640 });
  await writeFile(odd, 'odd');
  await writeFile(empty, '');
  await mkdir(sub, { mode: 0o750 });
  await symlink(plain, link);
  const request: PrefetchRequest = {
    paths: [plain, odd, empty, sub, link, path.join(dir, 'missing'), 'relative/ignored'],
    units: ['kprov-test-no-such-unit.service'],
    commands: [
      { argv: ['sh', '-c', 'printf "two\\nlines"'] },
      { argv: ['sh', '-c', 'echo out; echo "err one" >&2; exit 3'] },
      { argv: ['sh', '-c', 'printf %s "$K"'], env: { K: "it's @ value" } },
      { argv: ['true'], whenActive: 'kprov-test-no-such-unit.service' },
    ],
  };
  const token = newToken();
  const argv = prefetchArgv(request, token);
  const { stdout } = await run(argv[0]!, argv.slice(1), { maxBuffer: 1 << 20 });
  const read = parsePrefetch(stdout, request, token);

  assert.deepEqual(read.stats.get(plain), { type: 'file', mode: 0o640, owner: (await ownerOf(plain)).owner, group: (await ownerOf(plain)).group, sha256: sha('hello\n') });
  assert.equal(read.stats.get(odd)?.sha256, sha('odd'), 'a name with | and a space');
  assert.equal(read.stats.get(empty)?.sha256, sha(''));
  assert.equal(read.stats.get(sub)?.type, 'directory');
  assert.equal(read.stats.get(sub)?.mode, 0o750);
  assert.equal(read.stats.get(sub)?.sha256, undefined);
  assert.equal(read.stats.get(link)?.type, 'symlink', 'a link is not followed');
  assert.ok(read.stats.has(path.join(dir, 'missing')) && read.stats.get(path.join(dir, 'missing')) === undefined, 'missing is known to be missing');
  assert.ok(!read.stats.has('relative/ignored'), 'what the format cannot carry is left to the task');

  assert.deepEqual(read.commands.get(probeKey(request.commands[0]!)), { code: 0, stdout: 'two\nlines', stderr: '' });
  assert.deepEqual(read.commands.get(probeKey(request.commands[1]!)), { code: 3, stdout: 'out\n', stderr: 'err one\n' });
  assert.deepEqual(read.commands.get(probeKey(request.commands[2]!)), { code: 0, stdout: "it's @ value", stderr: '' });
  assert.ok(!read.commands.has(probeKey(request.commands[3]!)), 'a probe of an inactive unit is not run ahead');
  // Without systemd (this machine may have none) the units stay unknown; with it, not-found.
  const unit = read.units.get('kprov-test-no-such-unit.service');
  assert.ok(unit === undefined || unit.loadState === 'not-found', JSON.stringify(unit));
});

async function ownerOf(p: string): Promise<{ owner: string; group: string }> {
  const { stdout } = await run('stat', ['-c', '%U|%G', '--', p]);
  const [owner = '', group = ''] = stdout.trim().split('|');
  assert.ok((await lstat(p)).isFile());
  return { owner, group };
}

test('the cache: read-ahead answers without commands; a change drops what it may have altered; failed probes answer once', async () => {
  const fleet = answerReadAhead(new FakeFleet(['a']));
  const m = fleet.machine('a');
  const host = new FakeHost(m);
  m.putFile('/etc/app/a.conf', 'a');
  m.putFile('/etc/app/b.conf', 'b');
  m.putFile('/etc/systemd/system/app.service', '[Service]\n');
  m.units.set('app.service', { enabled: true, active: true });
  let healthy = false;
  m.script = (argv) => (argv[0] === 'app-health' ? { code: healthy ? 0 : 1, stdout: '', stderr: healthy ? '' : 'down\n' } : undefined);
  const cache = new ReadCache();
  const health = { argv: ['app-health'] };
  const report = await cache.prefetch(host, ReadCache.request([{ paths: ['/etc/app/a.conf', '/etc/app/b.conf', '/etc/app'] }, { paths: ['/etc/app/a.conf'], units: ['app.service'], commands: [health, health] }]));
  assert.deepEqual(report, { paths: 3, units: 1, commands: 1, exitCode: 0 }, 'each read once');
  const calls = () => m.calls.filter((c) => c.method === 'exec').length;
  const afterRead = calls();

  assert.equal((await cache.stat(host, '/etc/app/a.conf'))?.sha256, sha('a'));
  assert.equal((await cache.stat(host, '/etc/app'))?.type, 'directory');
  assert.equal((await cache.unit(host, 'app.service')).activeState, 'active');
  assert.equal(calls(), afterRead, 'answered from the read-ahead');

  // A failed probe is handed out once: whoever waits for it asks the host next time.
  assert.equal((await cache.exec(host, health)).code, 1);
  healthy = true;
  assert.equal((await cache.exec(host, health)).code, 0);
  assert.equal(calls(), afterRead + 1);

  // A file written: it and its directories are read again, a sibling is not; probes are dropped.
  cache.invalidate([{ kind: 'file', summary: 'update', path: '/etc/app/a.conf' }]);
  await cache.stat(host, '/etc/app/a.conf');
  await cache.stat(host, '/etc/app');
  assert.equal(calls(), afterRead + 3);
  await cache.stat(host, '/etc/app/b.conf');
  await cache.unit(host, 'app.service');
  assert.equal(calls(), afterRead + 3, 'the sibling and the unit are still known');

  // A unit file written: every unit is read again (systemd may want a daemon-reload).
  cache.invalidate([{ kind: 'file', summary: 'update', path: '/etc/systemd/system/app.service' }]);
  await cache.unit(host, 'app.service');
  assert.equal(calls(), afterRead + 4);

  // A change made elsewhere (a delegated kubectl drain) leaves what was read from this host.
  cache.invalidate([{ kind: 'custom', summary: 'drain node2', elsewhere: true }]);
  await cache.stat(host, '/etc/app/b.conf');
  assert.equal(calls(), afterRead + 4);

  // A change without a path (a started service, a command) may have changed anything.
  cache.invalidate([{ kind: 'service', summary: 'start app.service' }]);
  await cache.stat(host, '/etc/app/b.conf');
  assert.equal(calls(), afterRead + 5);

  // Closed (the play's tasks are done): everything is read from the host.
  cache.close();
  await cache.stat(host, '/etc/app/b.conf');
  await cache.stat(host, '/etc/app/b.conf');
  assert.equal(calls(), afterRead + 7);
});

test('a host that cannot run the read-ahead is read task by task', async () => {
  const m = new FakeFleet(['a']).machine('a');
  const host = new FakeHost(m);
  m.putFile('/etc/x', 'x');
  const cache = new ReadCache();
  const report = await cache.prefetch(host, { paths: ['/etc/x'], units: [], commands: [] });
  assert.equal(report.exitCode, 127, 'this fake does not know the script');
  assert.equal((await cache.stat(host, '/etc/x'))?.sha256, sha('x'));
});

function manyFiles(count: number): Role {
  return {
    name: 'many',
    tasks: (ctx) => [
      ...Array.from({ length: count }, (_, i) => file({ path: `/etc/many/f${i}`, content: `${ctx.host.name} ${i}\n` })),
      file({ path: '/etc/systemd/system/many.service', content: '[Service]\nExecStart=/bin/many\n' }),
      service({ unit: 'many' }),
      sysctl({ settings: { 'net.ipv4.ip_forward': 1 } }),
    ],
  };
}

test('a no-op play costs one command per host for 30 file checks, a unit and a sysctl; a change costs only its own writes', async () => {
  const names = hostNames(3);
  const fleet = new FakeFleet(names);
  for (const m of fleet.machines.values()) m.sysctls.set('net.ipv4.ip_forward', '0');
  const yaml = '- name: many\n  hosts: all\n  roles: [many]\n';
  const roles = [manyFiles(30)];
  const inventory = makeInventory(names);
  const first = await runYaml(yaml, { inventory, roles, fleet });
  assert.equal(first.result.status, 'ok', JSON.stringify(first.of('host:finish').map((e) => e.error)));

  for (const m of fleet.machines.values()) m.calls.length = 0;
  const again = await runYaml(yaml, { inventory, roles, fleet });
  assert.deepEqual(again.result.recap.map((r) => [r.ok, r.changed]), names.map(() => [33, 0]));
  for (const m of fleet.machines.values()) {
    const calls = m.calls.filter((c) => c.method !== 'close');
    assert.deepEqual(calls.map((c) => (isReadAhead(c.argv) ? 'read-ahead' : `${c.method} ${c.argv?.join(' ') ?? c.path}`)), ['read-ahead'], m.name);
  }
  assert.deepEqual(again.of('host:read').map((e) => [e.host, e.paths, e.units, e.commands, e.exitCode]), names.map((n) => [n, 32, 1, 1, 0]));

  // One file differs on node2: its diff and write; the other files and the unit still come from the
  // read-ahead, while probes (which may read anything) are asked again.
  const node2 = fleet.machine('node2');
  node2.putFile('/etc/many/f7', 'drifted\n');
  for (const m of fleet.machines.values()) m.calls.length = 0;
  const fix = await runYaml(yaml, { inventory, roles, fleet });
  assert.deepEqual(fix.result.recap.map((r) => r.changed), [0, 1, 0]);
  assert.deepEqual(
    node2.calls.filter((c) => c.method !== 'close').map((c) => (isReadAhead(c.argv) ? 'read-ahead' : `${c.method} ${c.argv?.join(' ') ?? c.path}`)),
    ['read-ahead', 'readFile /etc/many/f7', 'writeFile /etc/many/f7', 'exec sysctl -n net.ipv4.ip_forward'],
  );
});
