/**
 * The reset role's pieces that need no host: what it removes follows the inventory's
 * directories, and its file probe (real sh) lists exactly what exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { footprint, RESET_UNITS } from '../../../src/roles/reset/footprint.js';
import { FILES_SCRIPT } from '../../../src/roles/reset/scripts.js';
import { loadCluster } from './node-cluster.js';

test('the footprint follows the inventory: moved directories are removed where they are', async () => {
  const c = await loadCluster(undefined, { kube_config_dir: '/srv/kube', etcd_data_dir: '/data/etcd', bin_dir: '/opt/bin' });
  const paths = footprint(c.run().inventory.hostVars('node1'));
  for (const p of ['/srv/kube', '/srv/kube/ssl', '/data/etcd', '/opt/bin/kubelet', '/opt/bin/etcdctl', '/opt/bin/containerd-shim-runc-v2', '/etc/ssl/etcd', '/etc/systemd/system/kubelet.service', '/etc/containerd', '/etc/cni', '/opt/cni', '/var/lib/kubelet', '/var/lib/kprov']) {
    assert.ok(paths.includes(p), `${p} is removed`);
  }
  assert.ok(!paths.includes('/etc/kubernetes'), 'the default directory is not touched when it moved');
  assert.ok(!paths.some((p) => p === '/' || p === '/etc' || p === '/var/lib' || p === '/usr/local/bin' || p === '/var/log'), 'no shared directory is removed whole');
  assert.ok(RESET_UNITS.indexOf('kubelet.service') < RESET_UNITS.indexOf('kube-apiserver.service') && RESET_UNITS.indexOf('kube-apiserver.service') < RESET_UNITS.indexOf('etcd.service'), 'what runs pods stops first, etcd last');
});

test('the file probe lists what exists, files, directories and dangling links alike', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-reset-'));
  try {
    await mkdir(path.join(dir, 'etc-kubernetes'));
    await writeFile(path.join(dir, 'kubelet'), 'x');
    await execa('ln', ['-s', path.join(dir, 'nowhere'), path.join(dir, 'dangling')]);
    const r = await execa('sh', ['-c', FILES_SCRIPT, 'kprov-reset', 'probe', ...['etc-kubernetes', 'kubelet', 'dangling', 'absent'].map((p) => path.join(dir, p))]);
    assert.deepEqual(r.stdout.split('\n'), ['etc-kubernetes', 'kubelet', 'dangling'].map((p) => `path ${path.join(dir, p)}`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('files in shared directories go only when kprov wrote them, and their directory only when empty', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-reset-'));
  try {
    for (const d of ['nginx', 'haproxy', 'users-nginx']) await mkdir(path.join(dir, d));
    await writeFile(path.join(dir, 'nginx', 'nginx.conf'), '# Written by kprov from templates/node/nginx.conf.j2\n');
    await writeFile(path.join(dir, 'haproxy', 'haproxy.cfg'), '# Written by kprov from templates/node/haproxy.cfg.j2\n');
    await writeFile(path.join(dir, 'haproxy', 'errors.http'), 'kept\n');
    await writeFile(path.join(dir, 'users-nginx', 'nginx.conf'), 'user www-data;\n');
    const owned = ['nginx/nginx.conf', 'haproxy/haproxy.cfg', 'users-nginx/nginx.conf'].map((p) => path.join(dir, p));
    const probe = await execa('sh', ['-c', FILES_SCRIPT, 'kprov-reset', 'probe', '--written-by-kprov', ...owned]);
    assert.deepEqual(probe.stdout.split('\n'), [`path ${owned[0]}`, `path ${owned[1]}`]);
    // This machine's systemd is not the test's: systemctl answers from a stub.
    await mkdir(path.join(dir, 'bin'));
    await writeFile(path.join(dir, 'bin', 'systemctl'), '#!/bin/sh\nexit 0\n');
    await chmod(path.join(dir, 'bin', 'systemctl'), 0o755);
    await execa('sh', ['-c', FILES_SCRIPT, 'kprov-reset', 'remove', '--written-by-kprov', ...owned], { env: { PATH: `${path.join(dir, 'bin')}:${process.env['PATH'] ?? ''}` } });
    assert.equal(existsSync(path.join(dir, 'nginx')), false, 'kprov-only directory removed');
    assert.deepEqual([existsSync(owned[1]!), existsSync(path.join(dir, 'haproxy', 'errors.http'))], [false, true]);
    assert.equal(existsSync(owned[2]!), true, "the host's own nginx.conf stays");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
