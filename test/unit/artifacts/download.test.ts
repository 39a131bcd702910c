import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { downloadArtifacts, type ArtifactEvent } from '../../../src/artifacts/download.js';
import { KprovError } from '../../../src/errors.js';
import { openFixture, TEST_HTTP, type Fixture } from '../../support/artifact-fixture.js';
import { fakeBinary, sha256, sha512 } from '../../../dev/fixture-release.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await openFixture();
});
afterEach(async () => {
  await fx.close();
});

const opts = (extra: { concurrency?: number; onEvent?: (e: ArtifactEvent) => void } = {}) => ({ cacheDir: fx.cacheDir, http: TEST_HTTP, ...extra });

async function expectArtifactError(promise: Promise<unknown>, pattern: RegExp): Promise<KprovError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof KprovError, `expected a KprovError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail('expected the download to fail');
}

/** Every file in the cache's content store, by name. */
async function storedBlobs(): Promise<string[]> {
  return (await readdir(path.join(fx.cacheDir, 'sha256')).catch(() => [])).sort();
}

describe('downloadArtifacts: a cold then a warm cache', () => {
  it('downloads, verifies and extracts everything, then answers from the cache with zero requests', async () => {
    const artifacts = fx.artifacts();
    const first = await downloadArtifacts(artifacts, opts());
    assert.deepEqual(
      first.map((r) => [r.artifact.id, r.status, r.verification]),
      artifacts.map((a) => [a.id, 'downloaded', 'published']),
    );
    // Every installed file is the expected content, stored under its sha256, read-only.
    const installed = new Map(first.flatMap((r) => r.files.map((f) => [f.installPath, f] as const)));
    for (const [name, content] of fx.release.binaries) {
      const where = ['bridge', 'host-local', 'loopback', 'portmap'].includes(name) ? '/opt/cni/bin' : '/usr/local/bin';
      const f = installed.get(`${where}/${name}`);
      assert.ok(f, `${name} is installed`);
      assert.equal(f.sha256, sha256(content));
      assert.equal(f.size, content.length);
      assert.equal(f.mode, 0o755);
      assert.equal(path.basename(f.cachePath), f.sha256);
      assert.deepEqual(await readFile(f.cachePath), content);
      assert.equal((await stat(f.cachePath)).mode & 0o777, 0o444);
    }
    // Nothing else: no README, LICENSE, Documentation or containerd-stress.
    assert.equal(installed.size, fx.release.binaries.size);
    assert.deepEqual(
      first.find((r) => r.artifact.id === 'containerd')!.files.map((f) => f.name),
      ['containerd', 'containerd-shim', 'containerd-shim-runc-v1', 'containerd-shim-runc-v2', 'ctr'],
    );
    // The archive itself is addressed by its sha256 too.
    const etcd = first.find((r) => r.artifact.id === 'etcd')!;
    assert.equal(etcd.sha256, sha256(fx.release.files.get(fx.release.paths.etcd)!));
    assert.deepEqual(await readdir(path.join(fx.cacheDir, 'tmp')), []);

    fx.server.resetCounts();
    const second = await downloadArtifacts(fx.artifacts(), opts());
    assert.deepEqual(fx.server.requests, [], 'a warm cache makes no HTTP request at all');
    assert.ok(second.every((r) => r.status === 'cached'));
    assert.deepEqual(
      second.map((r) => r.files),
      first.map((r) => r.files),
    );
  });

  it('fetches the same URL once when several artifacts share it', async () => {
    const a = fx.artifact('kubelet');
    const results = await downloadArtifacts([a, { ...a }, a], opts());
    assert.equal(results.length, 3);
    assert.equal(fx.server.countFor(fx.release.paths.kubelet), 1);
  });

  it('runs distinct downloads concurrently, never more than asked', async () => {
    for (const p of Object.values(fx.release.paths)) fx.server.always(p, { delayMs: 150 });
    await downloadArtifacts(fx.artifacts(), opts({ concurrency: 3 }));
    assert.ok(fx.server.maxInFlight >= 2, `downloads overlapped (max in flight ${fx.server.maxInFlight})`);
    assert.ok(fx.server.maxInFlight <= 3, `at most 3 at once (saw ${fx.server.maxInFlight})`);
  });
});

describe('downloadArtifacts: checksum sources', () => {
  it('verifies a sha512 and a sha256 pinned in group_vars without fetching a checksum file', async () => {
    const body = fx.release.binaries.get('kube-apiserver')!;
    const kubectl = fx.release.binaries.get('kubectl')!;
    const [a, b] = await downloadArtifacts(
      [
        fx.artifact('kube-apiserver', { kube_apiserver_checksum: `sha512:${sha512(body)}` }),
        fx.artifact('kubectl', { kubectl_checksum: sha256(kubectl) }),
      ],
      opts(),
    );
    assert.equal(a!.verification, 'pinned');
    assert.equal(b!.verification, 'pinned');
    assert.ok(!fx.server.requests.some((r) => /\.sha(256|512)$/.test(r)), fx.server.requests.join(' '));
  });

  it('falls back to the next published checksum file when the first is missing', async () => {
    fx.server.files.delete(`${fx.release.paths.cni}.sha256`);
    const [r] = await downloadArtifacts([fx.artifact('cni')], opts());
    assert.equal(r!.verification, 'published');
    assert.equal(fx.server.countFor(`${fx.release.paths.cni}.sha256`), 1);
    assert.equal(fx.server.countFor(`${fx.release.paths.cni}.sha512`), 1);
  });

  it('enforces the catalogue pin (etcd v3.2.26) and keeps nothing that fails it', async () => {
    // Serve a tarball under v3.2.26 that is not the real release: the pinned sha256 cannot match.
    const fake = fx.release.files.get(fx.release.paths.etcd)!;
    fx.server.files.set('/github.com/etcd-io/etcd/releases/download/v3.2.26/etcd-v3.2.26-linux-amd64.tar.gz', fake);
    const err = await expectArtifactError(
      downloadArtifacts([fx.artifact('etcd', { etcd_version: 'v3.2.26' })], opts()),
      /^etcd v3\.2\.26 \(amd64\): checksum mismatch for http:\/\/127\.0\.0\.1:\d+\/github\.com\/etcd-io\/etcd\/releases\/download\/v3\.2\.26\/etcd-v3\.2\.26-linux-amd64\.tar\.gz: expected sha256:127d4f2097c09d929beb9d3784590cc11102f4b4d4d4da7ad82d5c9e856afd38 \(from the checksum kprov pins for etcd v3\.2\.26\), got sha256:/,
    );
    assert.ok(err.message.includes(sha256(fake)), 'the actual sum is named');
    assert.ok(!fx.server.requests.some((r) => r.endsWith('SHA256SUMS')), 'a pin needs no checksum file');
    assert.deepEqual(await storedBlobs(), []);
    assert.deepEqual(await readdir(path.join(fx.cacheDir, 'urls')), []);
    assert.deepEqual(await readdir(path.join(fx.cacheDir, 'tmp')), []);
  });
});

describe('downloadArtifacts: failures', () => {
  it('rejects a download that does not match its published checksum and caches nothing', async () => {
    const evil = fakeBinary('kube-apiserver', 'v1.13.5-evil');
    fx.server.files.set(fx.release.paths.kubeApiserver, evil);
    const expected = sha512(fx.release.binaries.get('kube-apiserver')!);
    const err = await expectArtifactError(
      downloadArtifacts([fx.artifact('kube-apiserver')], opts()),
      /^kube-apiserver v1\.13\.5 \(amd64\): checksum mismatch for http:\/\/127\.0\.0\.1:\d+\/dl\.k8s\.io\/release\/v1\.13\.5\/bin\/linux\/amd64\/kube-apiserver: /,
    );
    assert.ok(err.message.includes(`expected sha512:${expected}`));
    assert.ok(err.message.includes(`(from ${fx.server.url}${fx.release.paths.kubeApiserver}.sha512)`));
    assert.ok(err.message.includes(`got sha512:${sha512(evil)}`));
    assert.match(err.hint ?? '', /nothing was cached or installed/);
    assert.equal(err.exitCode, 2);
    assert.deepEqual(await storedBlobs(), []);
    assert.deepEqual(await readdir(path.join(fx.cacheDir, 'tmp')), []);
  });

  it('names a URL that does not exist and does not retry a 404', async () => {
    const err = await expectArtifactError(
      downloadArtifacts([fx.artifact('kubelet', { kubelet_download_url: `${fx.server.url}/nowhere/kubelet`, kubelet_checksum: 'a'.repeat(64) })], opts()),
      /^kubelet v1\.13\.5 \(amd64\): download http:\/\/127\.0\.0\.1:\d+\/nowhere\/kubelet not found \(HTTP 404\)$/,
    );
    assert.equal(err.hint, 'check kubelet_download_url');
    assert.equal(fx.server.countFor('/nowhere/kubelet'), 1);
  });

  it('tells files_repo users which upstream file the mirror lacks', async () => {
    fx.server.files.delete(fx.release.paths.runc);
    const err = await expectArtifactError(downloadArtifacts([fx.artifact('runc')], opts()), /runc\.amd64 not found \(HTTP 404\)/);
    assert.equal(err.hint, 'check that files_repo mirrors https://github.com/opencontainers/runc/releases/download/v1.1.5/runc.amd64');
  });

  it('refuses an artifact without any checksum, naming the variable and the insecure flag', async () => {
    fx.server.files.delete(`${fx.release.paths.kubelet}.sha512`);
    const err = await expectArtifactError(
      downloadArtifacts([fx.artifact('kubelet')], opts()),
      /^kubelet v1\.13\.5 \(amd64\): no checksum file found for .*\/kubelet \(tried .*\/kubelet\.sha512\)$/,
    );
    assert.equal(err.hint, 'set kubelet_checksum: sha256:<hex> in group_vars, or pass --insecure-skip-checksum to install it unverified');
    assert.equal(fx.server.countFor(fx.release.paths.kubelet), 0, 'the binary itself is never fetched');
  });

  it('refuses runc releases that publish no checksum unless runc_checksum is pinned', async () => {
    const err = await expectArtifactError(
      downloadArtifacts([fx.artifact('runc', { runc_version: 'v1.0.0-rc3' })], opts()),
      /^runc v1\.0\.0-rc3 \(amd64\): no checksum is published for .*runc\.amd64, and none is pinned$/,
    );
    assert.match(err.hint ?? '', /runc_checksum/);
    assert.deepEqual(fx.server.requests, []);
  });

  it('rejects a checksum file that does not list the artifact', async () => {
    fx.server.files.set(`${fx.release.paths.containerd}.sha256sum`, Buffer.from(`${'0'.repeat(64)}  something-else.tar.gz\n`));
    await expectArtifactError(
      downloadArtifacts([fx.artifact('containerd')], opts()),
      /checksum file .*\.sha256sum is unusable: it lists no sha256 for containerd-1\.6\.20-linux-amd64\.tar\.gz/,
    );
  });

  it('retries a truncated body and succeeds; gives up after the bounded tries', async () => {
    const p = fx.release.paths.kubeApiserver;
    fx.server.misbehave(p, { truncateAt: 1000 });
    const events: ArtifactEvent[] = [];
    const [r] = await downloadArtifacts([fx.artifact('kube-apiserver')], opts({ onEvent: (e) => events.push(e) }));
    assert.equal(r!.sha256, sha256(fx.release.binaries.get('kube-apiserver')!));
    assert.equal(fx.server.countFor(p), 2);
    const retries = events.filter((e) => e.type === 'retry');
    assert.equal(retries.length, 1);
    assert.match(retries[0]!.type === 'retry' ? retries[0]!.info.reason : '', /cut short|connection lost/);

    fx.server.always(fx.release.paths.kubelet, { truncateAt: 100 });
    const err = await expectArtifactError(
      downloadArtifacts([fx.artifact('kubelet')], opts()),
      /^kubelet v1\.13\.5 \(amd64\): cannot download .*\/kubelet: (download cut short: got 100 of \d+ bytes|connection lost after 100 bytes.*) \(after 3 tries\)$/,
    );
    assert.equal(err.exitCode, 1);
    assert.equal(fx.server.countFor(fx.release.paths.kubelet), 3);
    assert.deepEqual(await readdir(path.join(fx.cacheDir, 'tmp')), []);
  });

  it('retries 503 with backoff, then succeeds; a permanent 503 stops after the bounded tries', async () => {
    const p = fx.release.paths.runc;
    fx.server.misbehave(p, { status: 503 }, { status: 503 });
    const events: ArtifactEvent[] = [];
    const [r] = await downloadArtifacts([fx.artifact('runc')], opts({ onEvent: (e) => events.push(e) }));
    assert.equal(r!.status, 'downloaded');
    assert.equal(fx.server.countFor(p), 3);
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'retry' ? [[e.info.attempt, e.info.delayMs, e.info.reason]] : [])),
      [
        [1, 5, 'HTTP 503 Service Unavailable'],
        [2, 10, 'HTTP 503 Service Unavailable'],
      ],
    );

    fx.server.always(fx.release.paths.kubelet, { status: 503 });
    const started = Date.now();
    await expectArtifactError(downloadArtifacts([fx.artifact('kubelet')], opts()), /HTTP 503 Service Unavailable \(after 3 tries\)/);
    assert.equal(fx.server.countFor(fx.release.paths.kubelet), 3);
    assert.ok(Date.now() - started < 5000, 'bounded in time');
  });

  it('gives up on a server that stalls, before or during the body, after bounded waits', async () => {
    const fast = { ...TEST_HTTP, attempts: 2, headersTimeoutMs: 100, idleTimeoutMs: 100 };
    fx.server.always(fx.release.paths.kubelet, { stallAt: 500 });
    const started = Date.now();
    await expectArtifactError(
      downloadArtifacts([fx.artifact('kubelet')], { cacheDir: fx.cacheDir, http: fast }),
      /cannot download .*\/kubelet: no data for 100 ms after 500 bytes \(after 2 tries\)$/,
    );
    fx.server.always(fx.release.paths.runc, { delayMs: 1000 });
    await expectArtifactError(
      downloadArtifacts([fx.artifact('runc', { runc_checksum: 'a'.repeat(64) })], { cacheDir: fx.cacheDir, http: fast }),
      /cannot download .*\/runc\.amd64: no response within 100 ms \(after 2 tries\)$/,
    );
    assert.ok(Date.now() - started < 5000, 'bounded in time');
    assert.deepEqual(await readdir(path.join(fx.cacheDir, 'tmp')), []);
  });

  it('names an unreachable server after the bounded tries', async () => {
    const { startFixtureServer } = await import('../../../dev/fixture-server.js');
    const closed = await startFixtureServer();
    const url = `${closed.url}/kubelet`;
    await closed.close();
    const err = await expectArtifactError(
      downloadArtifacts([fx.artifact('kubelet', { kubelet_download_url: url, kubelet_checksum: 'a'.repeat(64) })], opts()),
      /^kubelet v1\.13\.5 \(amd64\): cannot download http:\/\/127\.0\.0\.1:\d+\/kubelet: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(after 3 tries\)$/,
    );
    assert.equal(err.exitCode, 1);
  });

  it('follows redirects, but not forever', async () => {
    const p = fx.release.paths.kubelet;
    fx.server.misbehave(p, { redirect: '/moved/kubelet' });
    fx.server.files.set('/moved/kubelet', fx.release.binaries.get('kubelet')!);
    const [r] = await downloadArtifacts([fx.artifact('kubelet')], opts());
    assert.equal(r!.sha256, sha256(fx.release.binaries.get('kubelet')!));
    assert.equal(fx.server.countFor('/moved/kubelet'), 1);

    fx.server.always('/loop', { redirect: '/loop' });
    await expectArtifactError(
      downloadArtifacts([fx.artifact('kube-proxy', { kube_proxy_download_url: `${fx.server.url}/loop`, kube_proxy_checksum: 'a'.repeat(64) })], opts()),
      /more than 10 redirects/,
    );
  });

  it('reports a cache directory that cannot be written', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(fx.dir, 'not-a-dir'), 'x');
    const err = await expectArtifactError(
      downloadArtifacts([fx.artifact('kubelet')], { cacheDir: path.join(fx.dir, 'not-a-dir', 'kprov'), http: TEST_HTTP }),
      /^cannot write the download cache .*not-a-dir\/kprov: ENOTDIR/,
    );
    assert.equal(err.code, 'io');
    assert.deepEqual(fx.server.requests, []);
  });

  it('reports every failure as an event and still finishes the others', async () => {
    fx.server.files.delete(fx.release.paths.runc);
    const events: ArtifactEvent[] = [];
    await expectArtifactError(downloadArtifacts(fx.artifacts(), opts({ onEvent: (e) => events.push(e) })), /runc/);
    assert.deepEqual(events.filter((e) => e.type === 'failed').map((e) => (e.type === 'failed' ? e.artifact.id : '')), ['runc']);
    assert.equal(events.filter((e) => e.type === 'done').length, 9);
  });
});

describe('downloadArtifacts: --insecure-skip-checksum', () => {
  it('fetches no checksum, warns per artifact, and a later secure run verifies without downloading again', async () => {
    fx.server.files.delete(`${fx.release.paths.kubelet}.sha512`);
    const results = await downloadArtifacts(fx.artifacts({}, true), opts());
    assert.ok(!fx.server.requests.some((r) => /\.sha(256|512)(sum)?$|SHA256SUMS$/.test(r)), fx.server.requests.join(' '));
    assert.ok(results.every((r) => r.verification === 'skipped'));
    assert.deepEqual(
      results.map((r) => r.warnings),
      results.map((r) => [`${r.artifact.id} ${r.artifact.version} (amd64): checksum NOT verified (--insecure-skip-checksum): ${r.artifact.url}`]),
    );

    // Secure again: the cached kube-apiserver is verified against its .sha512, not re-downloaded.
    fx.server.resetCounts();
    const [api] = await downloadArtifacts([fx.artifact('kube-apiserver')], opts());
    assert.equal(api!.status, 'cached');
    assert.equal(api!.verification, 'published');
    assert.deepEqual(fx.server.requests, [`${fx.release.paths.kubeApiserver}.sha512`]);
    // ... and the kubelet, whose checksum is gone, is refused even though it is cached.
    await expectArtifactError(downloadArtifacts([fx.artifact('kubelet')], opts()), /no checksum file found/);
  });

  it('checks a new sha512 pin against the cached file without any request', async () => {
    await downloadArtifacts([fx.artifact('kubectl')], opts());
    fx.server.resetCounts();
    const pin = `sha512:${sha512(fx.release.binaries.get('kubectl')!)}`;
    const [r] = await downloadArtifacts([fx.artifact('kubectl', { kubectl_checksum: pin })], opts());
    assert.equal(r!.status, 'cached');
    assert.equal(r!.verification, 'pinned');
    assert.deepEqual(fx.server.requests, []);
  });

  it('downloads again when a newly pinned checksum does not match the cached file', async () => {
    await downloadArtifacts([fx.artifact('kube-scheduler')], opts());
    fx.server.resetCounts();
    await expectArtifactError(
      downloadArtifacts([fx.artifact('kube-scheduler', { kube_scheduler_checksum: 'b'.repeat(64) })], opts()),
      /checksum mismatch .* expected sha256:b{64} \(from kube_scheduler_checksum\)/,
    );
    assert.equal(fx.server.countFor(fx.release.paths.kubeApiserver.replace('kube-apiserver', 'kube-scheduler')), 1);
  });
});
