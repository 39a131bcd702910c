import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inCgroupsArgv, systemdCgroupMounts } from '../../../src/lab/cgroups.js';

test('the hierarchies systemd uses: cgroup2 and the named systemd one, on hybrid and pure v2 hosts', () => {
  const hybrid = [
    '30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '31 30 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '38 30 0:34 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '39 30 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  assert.deepEqual(systemdCgroupMounts(hybrid), ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified']);
  const pure = '30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';
  assert.deepEqual(systemdCgroupMounts(pure), ['/sys/fs/cgroup']);
});

test('the wrapper joins each cgroup, then execs the command with its arguments intact', async () => {
  const argv = inCgroupsArgv([], ['printf', '%s|', 'a b', '--', "it's"]);
  const [file, ...args] = argv;
  const { stdout } = await promisify(execFile)(file!, args);
  assert.equal(stdout, "a b|--|it's|");
  assert.deepEqual(inCgroupsArgv(['/cg/x'], ['true']).slice(4), ['/cg/x', '--', 'true']);
});
