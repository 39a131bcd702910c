import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nspawnArgs } from '../../../src/lab/container.js';
import { CGROUP_RW_UNIT, CGROUP_RW_UNIT_TEXT, containerdDir, installCgroupRemountUnit } from '../../../src/lab/container-support.js';

test('the remount unit runs before sysinit, outside the default dependencies, and remounts every v1 hierarchy', () => {
  const lines = CGROUP_RW_UNIT_TEXT.split('\n');
  for (const line of ['DefaultDependencies=no', 'Before=sysinit.target', 'Type=oneshot', 'RemainAfterExit=yes', 'WantedBy=sysinit.target']) {
    assert.ok(lines.includes(line), line);
  }
  // systemd turns $$ into $: the shell gets exactly LAB.md's loop.
  const exec = lines.find((l) => l.startsWith('ExecStart='))!;
  assert.equal(
    exec.replace(/\$\$/g, '$'),
    `ExecStart=/bin/sh -c 'for m in $(findmnt -rn -t cgroup -o TARGET); do mount -o remount,bind,rw "$m"; done'`,
  );
  assert.doesNotMatch(exec.replace(/\$\$/g, ''), /\$/, 'no $ left for systemd to expand');
});

test("the unit goes into the host's root (its upper layer), enabled for sysinit.target", async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'kprov-host-root-'));
  await mkdir(path.join(root, 'etc/systemd/system'), { recursive: true });
  await installCgroupRemountUnit(root);
  assert.equal(await readFile(path.join(root, 'etc/systemd/system', CGROUP_RW_UNIT), 'utf8'), CGROUP_RW_UNIT_TEXT);
  assert.equal(await readlink(path.join(root, 'etc/systemd/system/sysinit.target.wants', CGROUP_RW_UNIT)), `/etc/systemd/system/${CGROUP_RW_UNIT}`);
});

test('nspawn binds a per-host containerd directory and allows the keyring calls; no new capability', () => {
  const args = nspawnArgs({
    root: '/state/labs/a/hosts/node1/root',
    machine: 'a-node1',
    hostName: 'node1',
    namespace: 'kprov-a.node1',
    consoleLog: '/state/labs/a/hosts/node1/console.log',
    cgroups: [],
    containerdDir: containerdDir('/state/labs/a/hosts/node1'),
  });
  assert.ok(args.includes('--bind=/state/labs/a/hosts/node1/containerd:/var/lib/containerd'), args.join(' '));
  assert.ok(args.includes('--system-call-filter=@keyring'));
  assert.deepEqual(args.filter((a) => a.startsWith('--capability')), ['--capability=CAP_NET_ADMIN']);
  assert.ok(!args.some((a) => a.startsWith('--private-users')), 'user namespaces would take CAP_NET_ADMIN away');
});
