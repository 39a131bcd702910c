import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cgroupHierarchies, hostCgroupDirs, inCgroupsArgv, makeCgroup, parseProcCgroup, planLabCgroups } from '../../../src/lab/cgroups.js';

// This machine's layout: every v1 controller on its own, name=systemd, and cgroup2 beside them.
const HYBRID = [
  '30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '32 30 0:28 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
  '33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '34 30 0:30 / /sys/fs/cgroup/net_cls,net_prio rw,relatime - cgroup cgroup rw,net_cls,net_prio',
  '38 30 0:34 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '39 30 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  // A bind mount of a hierarchy already listed is not a hierarchy of its own.
  '40 25 0:29 / /mnt/memory-again rw,relatime - cgroup cgroup rw,memory',
].join('\n');

const PROC_CGROUP = ['9:name=systemd:/', '6:net_cls,net_prio:/', '4:memory:/session/42', '3:cpuset:/', '1:cpu:/', '0::/'].join('\n');

test('every cgroup hierarchy is found once, v1 controllers named as /proc/PID/cgroup names them', () => {
  assert.deepEqual(cgroupHierarchies(HYBRID), [
    { mountPoint: '/sys/fs/cgroup/cpu', version: 1, controllers: ['cpu'] },
    { mountPoint: '/sys/fs/cgroup/cpuset', version: 1, controllers: ['cpuset'] },
    { mountPoint: '/sys/fs/cgroup/memory', version: 1, controllers: ['memory'] },
    { mountPoint: '/sys/fs/cgroup/net_cls,net_prio', version: 1, controllers: ['net_cls', 'net_prio'] },
    { mountPoint: '/sys/fs/cgroup/systemd', version: 1, controllers: ['name=systemd'] },
    { mountPoint: '/sys/fs/cgroup/unified', version: 2, controllers: [] },
  ]);
  const pure = '30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';
  assert.deepEqual(cgroupHierarchies(pure), [{ mountPoint: '/sys/fs/cgroup', version: 2, controllers: [] }]);
});

test("a lab's cgroups sit below the caller's own cgroup in each hierarchy, a host's below the lab's", () => {
  const own = parseProcCgroup(PROC_CGROUP);
  assert.equal(own.get('net_cls,net_prio'), '/');
  const labDirs = planLabCgroups(cgroupHierarchies(HYBRID), own, 'demo');
  assert.deepEqual(labDirs, [
    '/sys/fs/cgroup/cpu/kprov-lab/demo',
    '/sys/fs/cgroup/cpuset/kprov-lab/demo',
    '/sys/fs/cgroup/memory/session/42/kprov-lab/demo',
    '/sys/fs/cgroup/net_cls,net_prio/kprov-lab/demo',
    '/sys/fs/cgroup/systemd/kprov-lab/demo',
    '/sys/fs/cgroup/unified/kprov-lab/demo',
  ]);
  assert.deepEqual(hostCgroupDirs(labDirs.slice(0, 2), 'node3'), ['/sys/fs/cgroup/cpu/kprov-lab/demo/node3', '/sys/fs/cgroup/cpuset/kprov-lab/demo/node3']);
  // A hierarchy /proc/self/cgroup does not list (a different namespace's view): its root.
  assert.deepEqual(planLabCgroups(cgroupHierarchies(HYBRID).slice(0, 1), new Map(), 'demo'), ['/sys/fs/cgroup/cpu/kprov-lab/demo']);
});

test('a new cgroup in a cpuset hierarchy gets its parent CPUs and memory nodes, level by level', async () => {
  // A directory standing in for a cpuset hierarchy: the kernel would create the empty files.
  const root = await mkdtemp(path.join(tmpdir(), 'kprov-cpuset-'));
  await writeFile(path.join(root, 'cpuset.cpus'), '0-1\n');
  await writeFile(path.join(root, 'cpuset.mems'), '0\n');
  for (const level of ['kprov-lab', 'kprov-lab/demo', 'kprov-lab/demo/node1']) {
    await mkdir(path.join(root, level));
    await writeFile(path.join(root, level, 'cpuset.cpus'), '\n');
    await writeFile(path.join(root, level, 'cpuset.mems'), '\n');
  }
  await makeCgroup(path.join(root, 'kprov-lab/demo/node1'));
  for (const level of ['kprov-lab', 'kprov-lab/demo', 'kprov-lab/demo/node1']) {
    assert.equal(await readFile(path.join(root, level, 'cpuset.cpus'), 'utf8'), '0-1\n', level);
    assert.equal(await readFile(path.join(root, level, 'cpuset.mems'), 'utf8'), '0\n', level);
  }
  // Elsewhere (no cpuset files) it only makes the directories, and making one twice is fine.
  const plain = await mkdtemp(path.join(tmpdir(), 'kprov-cg-'));
  await makeCgroup(path.join(plain, 'kprov-lab/demo/node2'));
  await makeCgroup(path.join(plain, 'kprov-lab/demo/node2'));
});

test('the wrapper joins each cgroup, then execs the command with its arguments intact', async () => {
  const argv = inCgroupsArgv([], ['printf', '%s|', 'a b', '--', "it's"]);
  const [file, ...args] = argv;
  const { stdout } = await promisify(execFile)(file!, args);
  assert.equal(stdout, "a b|--|it's|");
  assert.deepEqual(inCgroupsArgv(['/cg/x'], ['true']).slice(4), ['/cg/x', '--', 'true']);
});
