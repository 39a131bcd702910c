import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchInterrupts, type SignalProcess } from '../../../src/cli/interrupts.js';

function fakeProcess(): EventEmitter & SignalProcess & { ppid: number } {
  return Object.assign(new EventEmitter(), { ppid: 4000 });
}

function watch(fromParent: boolean, proc = fakeProcess()) {
  const notices: string[] = [];
  const exits: number[] = [];
  const interrupts = watchInterrupts({ process: proc, notice: (t) => notices.push(t), exit: (c) => exits.push(c), fromParent, graceMs: 30_000, parentPollMs: 5 });
  return { proc, notices, exits, interrupts };
}

test('the first SIGTERM aborts the run with the signal\'s name; the second exits 130 at once after the cleanups', () => {
  const { proc, notices, exits, interrupts } = watch(false);
  const cleaned: string[] = [];
  interrupts.beforeForcedExit(() => cleaned.push('inventory lock'));
  proc.emit('SIGTERM');
  assert.equal(interrupts.signal.aborted, true);
  assert.equal(interrupts.signal.reason, 'SIGTERM');
  assert.deepEqual(notices, ['kprov: SIGTERM: stopping: no new task starts, steps under way get up to 30 s; send it again to stop at once']);
  assert.deepEqual(exits, []);
  proc.emit('SIGINT');
  assert.deepEqual(cleaned, ['inventory lock']);
  assert.deepEqual(exits, [130]);
  assert.match(notices[1]!, /^kprov: SIGINT again: stopping at once/);
  interrupts.dispose();
  assert.equal(proc.listenerCount('SIGINT') + proc.listenerCount('SIGTERM') + proc.listenerCount('SIGUSR2'), 0);
});

test('in a re-executed child, a signal seen directly and passed on by the parent counts once', () => {
  const { proc, exits, interrupts } = watch(true);
  // Ctrl-C: the terminal signals both processes; the parent passes its own on as SIGUSR2.
  proc.emit('SIGINT');
  proc.emit('SIGUSR2');
  assert.equal(interrupts.signal.aborted, true);
  assert.deepEqual(exits, [], 'one interrupt, not two');
  // `kill -TERM <parent>`: only the passed-on one arrives; together with the first it is the second.
  proc.emit('SIGUSR2');
  assert.deepEqual(exits, [130]);
  interrupts.dispose();
});

test('a child whose parent is gone stops cleanly, once, and is never forced out by it', async () => {
  const { proc, exits, notices, interrupts } = watch(true);
  proc.ppid = 1;
  await sleep(30);
  assert.equal(interrupts.signal.aborted, true);
  assert.match(notices[0]!, /^kprov: the kprov that started this run is gone: stopping/);
  assert.deepEqual(exits, []);
  interrupts.dispose();
});

test('a process that was not re-executed ignores SIGUSR2', () => {
  const { proc, interrupts } = watch(false);
  assert.equal(proc.listenerCount('SIGUSR2'), 0);
  interrupts.dispose();
});
