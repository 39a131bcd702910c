/** Bad input to `kprov lab up`: one-line errors, exit 2, nothing created. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../support/run-cli.js';
import { kprovBin } from '../../dev/lab-hosts.js';
import { labSkipReason } from '../support/lab.js';
import { runCommand } from '../../dev/run-command.js';
import { namespaceExists } from '../../src/lab/network.js';
import { findCommand, UP_COMMANDS } from '../../src/lab/preflight.js';

const NAME = 'e2e-pre';

/** Exit 2, exactly one `error:` line plus an optional hint line, and no lab namespace made. */
async function assertRefused(r: { code: number; stderr: string }, pattern: RegExp): Promise<void> {
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, pattern);
  assert.ok(r.stderr.trim().split('\n').length <= 2, r.stderr);
  assert.equal(await namespaceExists(`kprov-${NAME}`), false);
}

describe('kprov lab up refuses bad input', { skip: labSkipReason() }, () => {
  test('--hosts out of range or not a number', async () => {
    for (const hosts of ['0', '51', 'abc', '2.5']) {
      const r = await runCli(['lab', 'up', '--name', NAME, '--hosts', hosts], { env: process.env });
      await assertRefused(r, /^error: --hosts must be a whole number from 1 to 50\n$/);
    }
  });

  test('an invalid --name', async () => {
    for (const name of ['Lab', 'thirteen-char', '1lab', 'a.b']) {
      const r = await runCli(['lab', 'up', '--name', name], { env: process.env });
      await assertRefused(r, new RegExp(`^error: --name "${name.replace('.', '\\.')}" is not a valid lab name\\n`));
    }
  });

  test('not root', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'kprov-nonroot-'));
    try {
      const r = await runCommand(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, kprovBin, 'lab', 'up', '--name', NAME], { cwd });
      await assertRefused(r, /^error: kprov lab needs root .*\n {2}run it as root/);
      assert.deepEqual(await readdir(cwd), [], 'no inventory was written');
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('missing commands name the Debian package to install', async () => {
    const bin = await mkdtemp(path.join(tmpdir(), 'kprov-path-'));
    try {
      for (const command of UP_COMMANDS) {
        if (command === 'debootstrap' || command === 'systemd-nspawn') continue;
        const full = findCommand(command, process.env['PATH'] ?? '');
        if (full) await symlink(full, path.join(bin, command));
      }
      const r = await runCli(['lab', 'up', '--name', NAME], { env: { ...process.env, PATH: bin } });
      await assertRefused(r, /^error: missing commands: debootstrap, systemd-nspawn\n {2}install the packages: apt-get install debootstrap systemd-container\n$/);
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });

  test('too little disk space for the lab state', async () => {
    const small = await mkdtemp(path.join(tmpdir(), 'kprov-small-'));
    await runCommand(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
    try {
      await mkdir(path.join(small, 'state'));
      const r = await runCli(['lab', 'up', '--name', NAME, '--hosts', '2'], { env: { ...process.env, KPROV_LAB_STATE: path.join(small, 'state') } });
      await assertRefused(r, /^error: not enough disk space in .*kprov-small-.*: \d+ MiB free, 128 MiB needed\n/);
      assert.deepEqual(await readdir(path.join(small, 'state')), [], 'nothing was created');
    } finally {
      await runCommand(['umount', small]);
      await rm(small, { recursive: true, force: true });
    }
  });
});
