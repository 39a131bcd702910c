/**
 * The command a host runs with download_localhost: false, run here against the test's own
 * loopback server with the real curl, sha256sum/sha512sum, tar and coreutils of this machine.
 * destDir keeps every install path inside the test's temp directory.
 */
import assert from 'node:assert/strict';
import { access, readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { execa } from 'execa';
import { remoteDownloadPath, remoteFetchCommand } from '../../../src/artifacts/remote-fetch.js';
import type { ResolvedArtifact } from '../../../src/artifacts/resolve.js';
import { openFixture, type Fixture } from '../../support/artifact-fixture.js';
import { needsCommands } from '../../support/needs-commands.js';
import { fakeBinary, makeTarGz, sha256, sha512 } from '../../../dev/fixture-release.js';

// curl honours proxy variables: make sure nothing can leave loopback.
const NO_PROXY_ENV = { http_proxy: '', https_proxy: '', HTTP_PROXY: '', HTTPS_PROXY: '', ALL_PROXY: '', all_proxy: '', no_proxy: '*', NO_PROXY: '*' };

let fx: Fixture;
let root: string;
let remoteCache: string;
beforeEach(async () => {
  fx = await openFixture();
  root = path.join(fx.dir, 'root');
  remoteCache = path.join(fx.dir, 'remote-cache');
});
afterEach(async () => {
  await fx.close();
});

async function run(a: ResolvedArtifact) {
  const argv = remoteFetchCommand(a, { destDir: root, cacheDir: remoteCache });
  assert.equal(argv[0], 'sh');
  return execa(argv[0]!, argv.slice(1), { reject: false, env: NO_PROXY_ENV, timeout: 60_000 });
}

async function installed(p: string): Promise<{ content: Buffer; mode: number }> {
  const file = path.join(root, p);
  return { content: await readFile(file), mode: (await stat(file)).mode & 0o777 };
}

const exists = (p: string) => access(p).then(() => true, () => false);

describe('remoteFetchCommand', needsCommands('curl'), () => {
  it('downloads, verifies (.sha512) and installs a binary; a re-run reuses the download and changes nothing', async () => {
    const a = fx.artifact('kube-apiserver');
    const first = await run(a);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.equal(first.stdout, `changed ${root}/usr/local/bin/kube-apiserver`);
    assert.deepEqual(await installed('usr/local/bin/kube-apiserver'), { content: fx.release.binaries.get('kube-apiserver'), mode: 0o755 });
    assert.ok(await exists(remoteDownloadPath(a, remoteCache)));

    fx.server.resetCounts();
    const second = await run(a);
    assert.equal(second.exitCode, 0, second.stderr);
    assert.equal(second.stdout, `ok ${root}/usr/local/bin/kube-apiserver`);
    assert.deepEqual(fx.server.requests, [`${fx.release.paths.kubeApiserver}.sha512`], 'only the checksum file is fetched again');
  });

  it('installs archive members: etcd (SHA256SUMS), containerd (.sha256sum), CNI (.sha256), runc (signed runc.sha256sum)', async () => {
    for (const id of ['etcd', 'containerd', 'cni', 'runc', 'kubectl']) {
      const r = await run(fx.artifact(id));
      assert.equal(r.exitCode, 0, `${id}: ${r.stderr}`);
    }
    const bin = await readdir(path.join(root, 'usr/local/bin'));
    assert.deepEqual(bin.sort(), ['containerd', 'containerd-shim', 'containerd-shim-runc-v1', 'containerd-shim-runc-v2', 'ctr', 'etcd', 'etcdctl', 'kubectl', 'runc']);
    assert.deepEqual((await readdir(path.join(root, 'opt/cni/bin'))).sort(), ['bridge', 'host-local', 'loopback', 'portmap']);
    for (const name of [...bin, 'bridge', 'host-local', 'loopback', 'portmap']) {
      const where = bin.includes(name) ? 'usr/local/bin' : 'opt/cni/bin';
      assert.deepEqual(await installed(`${where}/${name}`), { content: fx.release.binaries.get(name), mode: 0o755 }, name);
    }
    // Unpacked archives are not left behind in the host's cache, only the downloads.
    const kept = await readdir(remoteCache);
    assert.equal(kept.length, 5);
    assert.ok(kept.every((n) => !n.includes('.x.') && !n.endsWith('.part') && !n.endsWith('.sum')), kept.join(' '));
  });

  it('uses a pinned checksum without fetching a checksum file, and replaces a different installed file', async () => {
    const body = fx.release.binaries.get('kubelet')!;
    await mkdir(path.join(root, 'usr/local/bin'), { recursive: true });
    await writeFile(path.join(root, 'usr/local/bin/kubelet'), 'old kubelet\n', { mode: 0o700 });
    const r = await run(fx.artifact('kubelet', { kubelet_checksum: `sha512:${sha512(body)}` }));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, `changed ${root}/usr/local/bin/kubelet`);
    assert.deepEqual(await installed('usr/local/bin/kubelet'), { content: body, mode: 0o755 });
    assert.deepEqual(fx.server.requests, [fx.release.paths.kubelet]);
    assert.deepEqual((await readdir(path.join(root, 'usr/local/bin'))).sort(), ['kubelet'], 'no temp file left');
  });

  it('refuses a download that does not match, installing nothing and keeping nothing', async () => {
    const evil = fakeBinary('kube-proxy', 'evil');
    const p = fx.release.paths.kubelet.replace('kubelet', 'kube-proxy');
    fx.server.files.set(p, evil);
    const a = fx.artifact('kube-proxy');
    const r = await run(a);
    assert.equal(r.exitCode, 3);
    assert.equal(
      r.stderr,
      `kprov-fetch: checksum mismatch for ${a.url}: expected sha512:${sha512(fx.release.binaries.get('kube-proxy')!)}, got sha512:${sha512(evil)}`,
    );
    assert.equal(await exists(path.join(root, 'usr/local/bin/kube-proxy')), false);
    assert.deepEqual(await readdir(remoteCache), []);
  });

  it('refuses when no checksum file exists, and installs unverified only when insecure', async () => {
    fx.server.files.delete(`${fx.release.paths.cni}.sha256`);
    fx.server.files.delete(`${fx.release.paths.cni}.sha512`);
    const refused = await run(fx.artifact('cni'));
    assert.equal(refused.exitCode, 3);
    assert.match(refused.stderr, /^kprov-fetch: no checksum to verify http:\/\/127\.0\.0\.1:\d+\/.*cni-plugins-linux-amd64-v1\.1\.1\.tgz \(not found: \S+\.tgz\.sha256 \S+\.tgz\.sha512\)$/);
    assert.equal(fx.server.countFor(fx.release.paths.cni), 0);

    fx.server.resetCounts();
    const insecure = await run(fx.artifact('cni', {}, true));
    assert.equal(insecure.exitCode, 0, insecure.stderr);
    assert.deepEqual(fx.server.requests, [fx.release.paths.cni]);
    assert.equal((await readdir(path.join(root, 'opt/cni/bin'))).length, 4);
  });

  it('fails with exit 4 when the archive lacks a required plugin', async () => {
    const body = await makeTarGz([{ path: 'loopback', content: Buffer.from('#!/bin/sh\n'), mode: 0o755 }], ['.']);
    fx.server.files.set('/custom/cni.tgz', body);
    const r = await run(fx.artifact('cni', { cni_download_url: `${fx.server.url}/custom/cni.tgz`, cni_checksum: sha256(body) }));
    assert.equal(r.exitCode, 4);
    assert.match(r.stderr, /has no bridge$/);
    assert.equal(await exists(path.join(root, 'opt/cni/bin/loopback')), false, 'nothing installed from an incomplete archive');
  });

  it('leaves the installed binary intact when the disk fills up while installing', async () => {
    const a = fx.artifact('kube-apiserver');
    assert.equal((await run(a)).exitCode, 0);
    const target = path.join(root, 'usr/local/bin/kube-apiserver');
    await writeFile(target, 'previous kube-apiserver\n');
    // A 64-block file size limit makes the 256 KiB copy fail part-way, as a full disk would.
    const argv = remoteFetchCommand(a, { destDir: root, cacheDir: remoteCache });
    const r = await execa('sh', ['-c', 'ulimit -f 64 && exec sh -c "$@"', 'limited', ...argv.slice(2)], { reject: false, env: NO_PROXY_ENV, timeout: 60_000 });
    assert.notEqual(r.exitCode, 0);
    assert.equal(await readFile(target, 'utf8'), 'previous kube-apiserver\n');
    assert.deepEqual(await readdir(path.dirname(target)), ['kube-apiserver'], 'no partial temp file left');
  });

  it('fails on an unreachable server instead of treating it as a missing checksum', async () => {
    const r = await run(fx.artifact('kubelet', { kubelet_download_url: 'http://127.0.0.1:9/kubelet' }));
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /cannot fetch checksum file http:\/\/127\.0\.0\.1:9\/kubelet\.sha512 \(curl exit 7\)/);
  });
});
