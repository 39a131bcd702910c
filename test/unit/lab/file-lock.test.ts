import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withFileLock } from '../../../src/lab/file-lock.js';
import { packageRoot } from '../../../src/paths.js';

test('holders of the same lock run one after the other', async () => {
  const lock = path.join(await mkdtemp(path.join(tmpdir(), 'kprov-lock-')), 'x.lock');
  const events: string[] = [];
  const hold = (id: string) =>
    withFileLock(lock, 10_000, async () => {
      events.push(`${id}+`);
      await sleep(100);
      events.push(`${id}-`);
      return id;
    });
  assert.deepEqual(await Promise.all([hold('a'), hold('b')]), ['a', 'b']);
  assert.ok(events.join(' ') === 'a+ a- b+ b-' || events.join(' ') === 'b+ b- a+ a-', events.join(' '));
});

test('a lock whose holder was killed is free at once; waiting is bounded', async () => {
  const lock = path.join(await mkdtemp(path.join(tmpdir(), 'kprov-lock-')), 'x.lock');
  // Another kprov process takes the lock and is killed without releasing it.
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { withFileLock } from ${JSON.stringify(path.join(packageRoot, 'dist/src/lab/file-lock.js'))};
await withFileLock(process.argv[1], 5000, () => new Promise(() => { console.log('locked'); setInterval(() => {}, 1000); }));`,
      lock,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const started = Date.now();
    await assert.rejects(withFileLock(lock, 1000, async () => 'never'), /could not lock .* within 1 s/);
    assert.ok(Date.now() - started < 5000, 'waiting is bounded');
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    const freed = Date.now();
    assert.equal(await withFileLock(lock, 10_000, async () => 'mine'), 'mine');
    assert.ok(Date.now() - freed < 3000, 'the kernel released the dead holder\'s lock');
  } finally {
    if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
  }
});
