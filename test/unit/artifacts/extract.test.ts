import assert from 'node:assert/strict';
import { mkdir, readdir, symlink, writeFile, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { execa } from 'execa';
import { downloadArtifacts } from '../../../src/artifacts/download.js';
import { matchMember, normalizeMemberPath } from '../../../src/artifacts/extract.js';
import { KprovError } from '../../../src/errors.js';
import { openFixture, TEST_HTTP, type Fixture } from '../../support/artifact-fixture.js';
import { makeTarGz, sha256 } from '../../../dev/fixture-release.js';

describe('member selection', () => {
  it('normalizes member paths and drops those that climb out', () => {
    assert.equal(normalizeMemberPath('./bridge'), 'bridge');
    assert.equal(normalizeMemberPath('././bin/ctr'), 'bin/ctr');
    assert.equal(normalizeMemberPath('etcd-v3.4.23-linux-amd64/etcd'), 'etcd-v3.4.23-linux-amd64/etcd');
    assert.equal(normalizeMemberPath('bin/'), 'bin');
    assert.equal(normalizeMemberPath('../evil'), undefined);
    assert.equal(normalizeMemberPath('bin/../../evil'), undefined);
    assert.equal(normalizeMemberPath('/usr/bin/etcd'), undefined);
    assert.equal(normalizeMemberPath('./'), undefined);
  });

  it('matches exact, prefix and executable selectors', () => {
    assert.equal(matchMember({ kind: 'exact', path: 'bin/ctr', installName: 'ctr' }, 'bin/ctr', 0o755), 'ctr');
    assert.equal(matchMember({ kind: 'exact', path: 'bin/ctr', installName: 'ctr' }, 'x/bin/ctr', 0o755), undefined);
    const shim = { kind: 'prefix', dir: 'bin', prefix: 'containerd-shim' } as const;
    assert.equal(matchMember(shim, 'bin/containerd-shim-runc-v2', 0o755), 'containerd-shim-runc-v2');
    assert.equal(matchMember(shim, 'bin/containerd-stress', 0o755), undefined);
    assert.equal(matchMember(shim, 'other/containerd-shim', 0o755), undefined);
    const exec = { kind: 'executables', dir: '' } as const;
    assert.equal(matchMember(exec, 'bridge', 0o755), 'bridge');
    assert.equal(matchMember(exec, 'LICENSE', 0o644), undefined);
    assert.equal(matchMember(exec, 'sub/bridge', 0o755), undefined);
  });
});

describe('extraction from downloaded archives', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await openFixture();
  });
  afterEach(async () => {
    await fx.close();
  });

  async function serve(name: string, body: Buffer): Promise<Record<string, string>> {
    fx.server.files.set(`/custom/${name}`, body);
    return { etcd_download_url: `${fx.server.url}/custom/${name}`, etcd_checksum: sha256(body) };
  }

  it('takes only regular files: a symlink, a path that climbs out and an absolute path are ignored', async () => {
    const src = path.join(fx.dir, 'src');
    const top = path.join(src, 'etcd-v3.4.23-linux-amd64');
    await mkdir(top, { recursive: true });
    await symlink('/bin/sh', path.join(top, 'etcd'));
    await writeFile(path.join(top, 'etcdctl'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(path.join(src, 'etcd'), 'evil\n', { mode: 0o755 });
    const tarFile = path.join(fx.dir, 'evil.tar');
    // GNU tar keeps `../` and `/` with -P; the transforms make the hostile names.
    await execa('tar', ['-cf', tarFile, '-P', '--transform', 's,^etcd$,../etcd,', '-C', src, 'etcd-v3.4.23-linux-amd64', 'etcd']);
    await execa('tar', ['-rf', tarFile, '-P', '--transform', 's,^etcd$,/tmp/kprov-test-etcd,', '-C', src, 'etcd']);
    await execa('gzip', ['-n', tarFile]);
    const archive = `${tarFile}.gz`;
    const listing = (await execa('tar', ['-tzvf', archive, '-P'])).stdout;
    assert.match(listing, /\.\.\/etcd/);
    assert.match(listing, /etcd -> \/bin\/sh/);
    assert.match(listing, / \/tmp\/kprov-test-etcd$/m);

    const vars = await serve('evil.tar.gz', await readFile(archive));
    await assert.rejects(downloadArtifacts([fx.artifact('etcd', vars)], { cacheDir: fx.cacheDir, http: TEST_HTTP }), (err: unknown) => {
      assert.ok(err instanceof KprovError);
      assert.match(err.message, /^etcd v3\.4\.23 \(amd64\): .*evil\.tar\.gz does not contain etcd$/);
      assert.match(err.hint ?? '', /etcd_download_url or files_repo/);
      return true;
    });
    // Nothing landed next to the cache.
    assert.deepEqual((await readdir(fx.dir)).sort(), ['cache', 'evil.tar.gz', 'src']);
    assert.deepEqual(await readdir(path.join(fx.cacheDir, 'tmp')), []);
  });

  it('reports an archive that is not a tar.gz', async () => {
    const vars = await serve('junk.tar.gz', Buffer.from('this is not an archive at all, just text\n'.repeat(20)));
    await assert.rejects(downloadArtifacts([fx.artifact('etcd', vars)], { cacheDir: fx.cacheDir, http: TEST_HTTP }), (err: unknown) => {
      assert.ok(err instanceof KprovError);
      assert.match(err.message, /^etcd v3\.4\.23 \(amd64\): cannot read the archive: /);
      return true;
    });
  });

  it('extracts multi-megabyte members completely (several members buffered at once)', async () => {
    const members = ['containerd', 'containerd-shim', 'containerd-shim-runc-v2', 'ctr'].map((name, i) => ({
      path: `bin/${name}`,
      content: randomBytes([12, 3, 5, 8][i]! * 1024 * 1024),
      mode: 0o755,
    }));
    const body = await makeTarGz(members, ['bin']);
    fx.server.files.set('/custom/containerd.tar.gz', body);
    const vars = { containerd_download_url: `${fx.server.url}/custom/containerd.tar.gz`, containerd_checksum: sha256(body) };
    const [r] = await downloadArtifacts([fx.artifact('containerd', vars)], { cacheDir: fx.cacheDir, http: TEST_HTTP });
    assert.equal(r!.files.length, 4);
    for (const f of r!.files) {
      const expected = members.find((m) => m.path === `bin/${f.name}`)!.content;
      assert.equal(f.size, expected.length, f.name);
      assert.ok((await readFile(f.cachePath)).equals(expected), `${f.name} is complete`);
    }
  });

  it('reuses a cached extraction for another install directory', async () => {
    const top = 'etcd-v3.4.23-linux-amd64';
    const body = await makeTarGz(
      [
        { path: `${top}/etcd`, content: Buffer.from('old etcd\n'), mode: 0o755 },
        { path: `${top}/etcdctl`, content: Buffer.from('etcdctl\n'), mode: 0o755 },
      ],
      [top],
    );
    const vars = await serve('dup.tar.gz', body);
    const [first] = await downloadArtifacts([fx.artifact('etcd', vars)], { cacheDir: fx.cacheDir, http: TEST_HTTP });
    assert.deepEqual(first!.files.map((f) => [f.name, f.installPath, f.sha256]), [
      ['etcd', '/usr/local/bin/etcd', sha256('old etcd\n')],
      ['etcdctl', '/usr/local/bin/etcdctl', sha256('etcdctl\n')],
    ]);
    const [again] = await downloadArtifacts([fx.artifact('etcd', { ...vars, bin_dir: '/opt/bin' })], { cacheDir: fx.cacheDir, http: TEST_HTTP });
    assert.equal(again!.status, 'cached');
    assert.deepEqual(again!.files.map((f) => f.installPath), ['/opt/bin/etcd', '/opt/bin/etcdctl']);
  });
});
