import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { runPassingSignals, SIGNALS_FROM_PARENT_ENV } from '../../../src/lab/signal-forward.js';
import { tempDir } from '../../support/temp-dir.js';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A child that records what it gets and ends with 130 after the first passed-on signal (as kprov does). */
const CHILD = `
const fs = require('node:fs');
const log = (l) => fs.appendFileSync(process.argv[1], l + '\\n');
log('env ' + process.env['${SIGNALS_FROM_PARENT_ENV}']);
process.on('SIGUSR2', () => { log('SIGUSR2'); setTimeout(() => process.exit(130), 20); });
fs.writeFileSync(process.argv[1] + '.ready', '');
setTimeout(() => process.exit(0), 10000);
`;

async function waitFor(file: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await readFile(file);
      return;
    } catch {
      await sleep(10);
    }
  }
  throw new Error(`${file} did not appear`);
}

test('a SIGTERM to the parent reaches the child (as SIGUSR2, flagged by the environment); the parent ends with its code', async (t) => {
  const dir = await tempDir(t);
  const log = path.join(dir, 'log');
  await writeFile(log, '');
  const parent = new EventEmitter();
  const code = runPassingSignals(process.execPath, ['-e', CHILD, log], { process: parent, onSpawnError: (e) => e });
  await waitFor(`${log}.ready`);
  assert.equal(parent.listenerCount('SIGTERM'), 1);
  parent.emit('SIGTERM');
  assert.equal(await code, 130);
  assert.deepEqual((await readFile(log, 'utf8')).trim().split('\n'), ['env 1', 'SIGUSR2']);
  assert.equal(parent.listenerCount('SIGTERM') + parent.listenerCount('SIGINT'), 0, 'listeners removed when the child ends');
});

test('a child that does not listen yet dies of the passed-on signal: reported as interrupted (130)', async () => {
  const parent = new EventEmitter();
  const code = runPassingSignals(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { process: parent, onSpawnError: (e) => e });
  await sleep(200);
  parent.emit('SIGINT');
  assert.equal(await code, 130);
});

test('the child\'s own exit code is passed through; a spawn failure is the caller\'s error', async () => {
  const parent = new EventEmitter();
  assert.equal(await runPassingSignals(process.execPath, ['-e', 'process.exit(3)'], { process: parent, onSpawnError: (e) => e }), 3);
  await assert.rejects(runPassingSignals('/nonexistent/kprov', [], { process: parent, onSpawnError: () => new Error('cannot enter') }), /cannot enter/);
});
