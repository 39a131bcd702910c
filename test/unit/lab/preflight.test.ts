import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { COMMAND_PACKAGES, findCommand, freeBytes, requireCommands, requireFreeSpace, requireRoot } from '../../../src/lab/preflight.js';

test('only root may run a lab', () => {
  assert.doesNotThrow(() => requireRoot(0));
  assert.throws(() => requireRoot(1000), /kprov lab needs root/);
});

test('a missing command names the Debian package that provides it', async () => {
  const bin = await mkdtemp(path.join(tmpdir(), 'kprov-bin-'));
  await symlink(process.execPath, path.join(bin, 'ip'));
  assert.equal(findCommand('ip', `/nonexistent:${bin}`), path.join(bin, 'ip'));
  assert.doesNotThrow(() => requireCommands(['ip'], { PATH: bin }));
  assert.throws(
    () => requireCommands(['ip', 'systemd-nspawn', 'nsenter', 'flock'], { PATH: bin }),
    (err: Error & { hint?: string }) => {
      assert.equal(err.message, 'missing commands: systemd-nspawn, nsenter, flock');
      assert.equal(err.hint, 'install the packages: apt-get install systemd-container util-linux');
      return true;
    },
  );
  assert.equal(COMMAND_PACKAGES['debootstrap'], 'debootstrap');
});

test('free space is read from the nearest existing parent', async () => {
  const free = await freeBytes(path.join(tmpdir(), 'does', 'not', 'exist'));
  assert.ok(free > 0);
  await assert.rejects(requireFreeSpace(tmpdir(), Number.MAX_SAFE_INTEGER), /not enough disk space in/);
  await requireFreeSpace(tmpdir(), 1);
});
