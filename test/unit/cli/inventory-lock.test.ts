import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { holderAlive, thisProcessHolder } from '../../../src/cli/control-host.js';
import { LOCK_FILE, takeInventoryLock, type LockJudge } from '../../../src/cli/inventory-lock.js';
import type { RunHolder } from '../../../src/engine/run-holder.js';
import { KprovError } from '../../../src/errors.js';
import { tempDir } from '../../support/temp-dir.js';
import { packageRoot } from '../../../src/paths.js';

const NOW = Date.parse('2025-01-31T10:07:00Z');
const judge: LockJudge = { alive: holderAlive, now: () => NOW };

function holder(over: Partial<RunHolder> = {}): RunHolder {
  return { runId: '0000abcd', user: 'root', host: hostname(), pid: process.pid, since: '2025-01-31T10:05:03.000Z', command: 'kprov apply cluster', ...over };
}

/** The PID of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

test('the lock is created exclusively with the holder as JSON (0600), and released only by its run', async (t) => {
  const dir = await tempDir(t);
  const me = await thisProcessHolder('1234abcd', 'kprov apply cluster', new Date(NOW));
  assert.equal(me.pid, process.pid);
  assert.match(me.pidStart ?? '', /^\d+$/);
  const lock = await takeInventoryLock(dir, me, judge);
  assert.equal(lock.path, path.join(dir, LOCK_FILE));
  assert.deepEqual(lock.warnings, []);
  assert.deepEqual(JSON.parse(await readFile(lock.path, 'utf8')), me);
  assert.equal((await stat(lock.path)).mode & 0o777, 0o600);

  // Someone removed it and another run took it: this run's release leaves that one alone.
  const other = holder({ runId: 'ffff0000' });
  await writeFile(lock.path, JSON.stringify(other));
  lock.release();
  assert.equal(JSON.parse(await readFile(lock.path, 'utf8')).runId, 'ffff0000');
  await writeFile(lock.path, JSON.stringify(me));
  lock.release();
  lock.release();
  await assert.rejects(stat(lock.path), /ENOENT/);
});

test('a lock whose run is alive on this host is refused, naming the holder', async (t) => {
  const dir = await tempDir(t);
  const first = await takeInventoryLock(dir, await thisProcessHolder('aaaa1111', 'kprov apply cluster', new Date('2025-01-31T10:05:03Z')), judge);
  await assert.rejects(takeInventoryLock(dir, holder({ runId: 'bbbb2222' }), judge), (err: unknown) => {
    assert.ok(err instanceof KprovError);
    assert.equal(err.code, 'lock');
    assert.equal(err.exitCode, 2);
    assert.equal(err.message, `another kprov run holds ${first.path}: pid ${process.pid} on host ${hostname()} since 10:05:03 UTC (kprov apply cluster)`);
    assert.equal(err.hint, `wait for it to end, or stop it: kill ${process.pid} (run aaaa1111)`);
    return true;
  });
  assert.equal(JSON.parse(await readFile(first.path, 'utf8')).runId, 'aaaa1111', 'the holder keeps its lock');
});

test('a stale lock of a dead process on this host is taken over with a warning', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, LOCK_FILE);
  const pid = deadPid();
  await writeFile(file, JSON.stringify(holder({ runId: 'dead0001', pid, pidStart: undefined })));
  const lock = await takeInventoryLock(dir, holder({ runId: 'a11ce000' }), judge);
  assert.equal(JSON.parse(await readFile(file, 'utf8')).runId, 'a11ce000');
  assert.deepEqual(lock.warnings, [`took over ${file}: run dead0001 (pid ${pid}, kprov apply cluster) is gone`]);
});

test('a reused PID does not keep a dead run\'s lock: the start time must match too', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, LOCK_FILE);
  await writeFile(file, JSON.stringify(holder({ runId: 'dead0002', pidStart: '1' })));
  const lock = await takeInventoryLock(dir, holder({ runId: 'a11ce001' }), judge);
  assert.equal(lock.warnings.length, 1);
});

test('a lock from another control host is reported, never taken', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, LOCK_FILE);
  const theirs = holder({ host: 'ctl-elsewhere', pid: 4242, since: '2025-01-30T23:59:00.000Z' });
  await writeFile(file, JSON.stringify(theirs));
  await assert.rejects(takeInventoryLock(dir, holder({ runId: 'a11ce002' }), judge), (err: unknown) => {
    assert.ok(err instanceof KprovError && err.exitCode === 2);
    assert.equal(err.message, `another kprov run holds ${file}: pid 4242 on host ctl-elsewhere since 2025-01-30 23:59:00 UTC (kprov apply cluster)`);
    assert.match(err.hint ?? '', /taken on another control host \(ctl-elsewhere\).*remove .*\.kprov\.lock by hand only once you know it is gone/);
    return true;
  });
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), theirs);
});

test('an unreadable lock file: refused while it may be being written, taken over once old', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, LOCK_FILE);
  await writeFile(file, '');
  const fresh: LockJudge = { alive: holderAlive, now: () => Date.now() };
  await assert.rejects(takeInventoryLock(dir, holder(), fresh), /another kprov run holds .* \(it is being written\)/);
  const old = new Date(Date.now() - 60_000);
  await utimes(file, old, old);
  const lock = await takeInventoryLock(dir, holder({ runId: 'a11ce003' }), fresh);
  assert.match(lock.warnings[0]!, /took over .*: it held no readable holder for 6\d s/);
});

test('runs starting at the same moment: one takes the lock, every other is refused naming it, none sees it half-written', async (t) => {
  const dir = await tempDir(t);
  const modules = path.join(packageRoot, 'dist', 'src', 'cli');
  const script = `
    const { takeInventoryLock } = await import(${JSON.stringify(path.join(modules, 'inventory-lock.js'))});
    const { holderAlive, thisProcessHolder } = await import(${JSON.stringify(path.join(modules, 'control-host.js'))});
    const me = await thisProcessHolder(process.argv[1], 'kprov apply cluster', new Date());
    const start = Number(process.argv[2]);
    while (Date.now() < start) {}
    try {
      await takeInventoryLock(process.argv[3], me, { alive: holderAlive, now: () => Date.now() });
      console.log('took');
      setTimeout(() => {}, 1500);
    } catch (err) {
      console.log(err.message);
    }`;
  const start = Date.now() + 700;
  const runs = Array.from({ length: 6 }, (_, i) =>
    new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', `0000000${i}`, String(start), dir]);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', () => resolve(out.trim()));
    }),
  );
  const said = await Promise.all(runs);
  assert.equal(said.filter((s) => s === 'took').length, 1, said.join('\n'));
  for (const s of said.filter((x) => x !== 'took')) assert.match(s, /^another kprov run holds .*: pid \d+ on host /, s);
});
