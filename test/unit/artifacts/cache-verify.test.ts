/**
 * The cache is verified on the way out: a stored file whose bytes no longer hash to its name
 * (same size, one byte flipped) is deleted with its index entries, fetched or extracted again,
 * and the run says so; it is never handed out for upload.
 */
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ArtifactCache } from '../../../src/artifacts/cache.js';
import { downloadArtifacts, type CachedArtifact } from '../../../src/artifacts/download.js';
import { KprovError } from '../../../src/errors.js';
import { openFixture, TEST_HTTP, type Fixture } from '../../support/artifact-fixture.js';
import { sha256 } from '../../../dev/fixture-release.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await openFixture();
});
afterEach(async () => {
  await fx.close();
});

const opts = () => ({ cacheDir: fx.cacheDir, http: TEST_HTTP });

/** Flips one byte in the middle of a stored file: same size, other content. */
async function flipByte(file: string): Promise<void> {
  const bytes = await readFile(file);
  const at = bytes.length >> 1;
  bytes[at] = bytes[at]! ^ 0xff;
  await chmod(file, 0o644);
  await writeFile(file, bytes);
  await chmod(file, 0o444);
}

const fileOf = (r: CachedArtifact, name: string) => {
  const f = r.files.find((x) => x.name === name);
  assert.ok(f, `${name} is among the files`);
  return f;
};

const indexFiles = async (sub: string) => (await readdir(path.join(fx.cacheDir, sub))).length;

describe('a corrupt binary in the cache', () => {
  it('is fetched again with a warning naming the artifact and the cache path; the file handed out is correct', async () => {
    const [first] = await downloadArtifacts([fx.artifact('kubelet')], opts());
    const blob = fileOf(first!, 'kubelet').cachePath;
    await flipByte(blob);
    const corrupt = sha256(await readFile(blob));
    fx.server.resetCounts();

    const [again] = await downloadArtifacts([fx.artifact('kubelet')], opts());
    assert.deepEqual(again!.warnings, [`kubelet v1.13.5 (amd64): cache entry ${blob} was corrupt (sha256 ${corrupt}); fetched again`]);
    assert.equal(fx.server.countFor(fx.release.paths.kubelet), 1, 'fetched again from its URL');
    assert.equal(again!.status, 'downloaded');
    const f = fileOf(again!, 'kubelet');
    assert.equal(f.cachePath, blob);
    assert.deepEqual(await readFile(f.cachePath), fx.release.binaries.get('kubelet'));
    assert.equal(f.sha256, sha256(fx.release.binaries.get('kubelet')!));
    assert.equal((await stat(blob)).mode & 0o777, 0o444);

    // Restored for good: the next run is warm and quiet again.
    fx.server.resetCounts();
    const [third] = await downloadArtifacts([fx.artifact('kubelet')], opts());
    assert.deepEqual([third!.status, third!.warnings, fx.server.requests], ['cached', [], []]);
  });

  it('that cannot be fetched again fails, saying the entry was corrupt and could not be restored, and is gone', async () => {
    const [first] = await downloadArtifacts([fx.artifact('kubelet')], opts());
    const blob = fileOf(first!, 'kubelet').cachePath;
    await flipByte(blob);
    const urls = await indexFiles('urls');
    fx.server.always(fx.release.paths.kubelet, { status: 404 });

    await assert.rejects(downloadArtifacts([fx.artifact('kubelet')], opts()), (err: unknown) => {
      assert.ok(err instanceof KprovError);
      assert.match(err.message, new RegExp(`^kubelet v1\\.13\\.5 \\(amd64\\): cache entry ${blob} was corrupt \\(sha256 [0-9a-f]{64}\\) and could not be restored: download .*/kubelet not found \\(HTTP 404\\)$`));
      assert.equal(err.exitCode, 2);
      return true;
    });
    await assert.rejects(stat(blob), /ENOENT/, 'the corrupt blob is deleted');
    assert.equal(await indexFiles('urls'), urls - 1, 'and so is the URL entry pointing at it');
  });
});

describe('a corrupt file extracted from an archive', () => {
  it('is extracted again from the cached archive without any request', async () => {
    const [first] = await downloadArtifacts([fx.artifact('etcd')], opts());
    const blob = fileOf(first!, 'etcd').cachePath;
    await flipByte(blob);
    fx.server.resetCounts();

    const [again] = await downloadArtifacts([fx.artifact('etcd')], opts());
    assert.deepEqual(again!.warnings.map((w) => w.replace(/\(sha256 [0-9a-f]{64}\)/, '(sha256 …)')), [
      `etcd v3.4.23 (amd64): cache entry ${blob} was corrupt (sha256 …); extracted again from its archive`,
    ]);
    assert.deepEqual(fx.server.requests, []);
    assert.deepEqual(await readFile(fileOf(again!, 'etcd').cachePath), fx.release.binaries.get('etcd'));
    assert.deepEqual(await readFile(fileOf(again!, 'etcdctl').cachePath), fx.release.binaries.get('etcdctl'));
  });

  it('with a corrupt archive too, fetches the archive again and extracts it', async () => {
    const [first] = await downloadArtifacts([fx.artifact('containerd')], opts());
    const member = fileOf(first!, 'ctr').cachePath;
    await flipByte(member);
    await flipByte(first!.cachePath);
    fx.server.resetCounts();

    const [again] = await downloadArtifacts([fx.artifact('containerd')], opts());
    const warnings = again!.warnings.map((w) => w.replace(/\(sha256 [0-9a-f]{64}\)/, '(sha256 …)'));
    assert.deepEqual(warnings, [
      `containerd 1.6.20 (amd64): cache entry ${member} was corrupt (sha256 …); extracted again from its archive`,
      `containerd 1.6.20 (amd64): cache entry ${first!.cachePath} was corrupt (sha256 …); fetched again`,
    ]);
    assert.equal(fx.server.countFor(fx.release.paths.containerd), 1);
    for (const f of again!.files) assert.deepEqual(await readFile(f.cachePath), fx.release.binaries.get(f.name), f.name);
  });
});

describe('verification cost', () => {
  it('hashes a blob once per run (cache instance), however many artifacts and hosts use it', async () => {
    const [first] = await downloadArtifacts([fx.artifact('runc')], opts());
    const cache = await ArtifactCache.open(fx.cacheDir);
    assert.equal(await cache.verifyBlob(first!.sha256), undefined);
    // A later change in the same run is not read again: the blob was read once…
    await flipByte(first!.cachePath);
    assert.equal(await cache.verifyBlob(first!.sha256), undefined);
    // …and the upload itself hashes what it sends (test/unit/ssh/remote-files.test.ts). A new run reads again.
    const next = await ArtifactCache.open(fx.cacheDir);
    assert.match((await next.verifyBlob(first!.sha256))?.found ?? '', /^sha256 [0-9a-f]{64}$/);
  });

  it('a later run does not read a blob again while it is unchanged since it last hashed to its name', async () => {
    const [first] = await downloadArtifacts([fx.artifact('runc')], opts());
    const later = await ArtifactCache.open(fx.cacheDir);
    // Its inode, size and change time still match the stamp: no byte of it is read.
    later.blobDigest = () => Promise.reject(new Error('read the blob'));
    assert.equal(await later.verifyBlob(first!.sha256), undefined);
    // Any write moves its change time, so a changed blob is read (and caught) as before.
    await flipByte(first!.cachePath);
    const after = await ArtifactCache.open(fx.cacheDir);
    assert.match((await after.verifyBlob(first!.sha256))?.found ?? '', /^sha256 [0-9a-f]{64}$/);
  });
});
