/** A `lab up` killed half-way leaves a lab that `lab status` shows and `lab down` removes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../support/run-cli.js';
import { kprovBin } from '../../dev/lab-hosts.js';
import { assertResourcesGone, labResources, labSkipReason } from '../support/lab.js';
import { runCommand } from '../../dev/run-command.js';
import { labDown } from '../../src/lab/down.js';
import { mountsUnder } from '../../src/lab/mounts.js';
import { labDir } from '../../src/lab/paths.js';

const NAME = 'e2e-half';

/** Polls state.json until `ready(state)` or the time runs out. */
async function waitForState(file: string, ready: (state: { hosts: { nspawn?: unknown }[] }) => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      try {
        if (ready(JSON.parse(text) as { hosts: { nspawn?: unknown }[] })) return true;
      } catch {
        // Caught between write and rename: try again.
      }
    }
    await sleep(5);
  }
  return false;
}

test('a lab up killed half-way is cleaned up completely by lab down', { skip: labSkipReason(), timeout: 120_000 }, async () => {
  await labDown(NAME).catch(() => undefined);
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-half-'));
  const child = spawn(process.execPath, [kprovBin, 'lab', 'up', '--name', NAME, '--hosts', '3', '--inventory', path.join(dir, 'inv')], {
    stdio: 'ignore',
  });
  try {
    const started = await waitForState(path.join(labDir(NAME), 'state.json'), (s) => s.hosts.some((h) => h.nspawn !== undefined), 60_000);
    assert.ok(started, 'lab up got as far as starting a container');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const status = await runCli(['lab', 'status', '--json', '--name', NAME], { env: process.env });
    const [lab] = JSON.parse(status.stdout) as { phase: string; namespaceExists: boolean }[];
    assert.equal(lab?.phase, 'creating');
    assert.equal(lab?.namespaceExists, true);
    await assert.rejects(stat(path.join(dir, 'inv', 'lab.json')), 'no inventory is written for a lab that never came up');

    const resources = await labResources(NAME);
    assert.ok(resources.pids.length >= 2, 'the mirror and at least one container were recorded');
    const down = await runCli(['lab', 'down', '--name', NAME], { env: process.env });
    assert.equal(down.code, 0, down.stderr);
    await assertResourcesGone(resources);
    assert.deepEqual(await mountsUnder(labDir(NAME)), []);
    await assert.rejects(stat(labDir(NAME)));
    const netns = await runCommand(['ip', 'netns', 'list']);
    assert.doesNotMatch(netns.stdout, /kprov-e2e-half/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await labDown(NAME).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});
