import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildLayer, layerKey, type LayerSpec } from '../../../dev/release/layer.js';

async function specWith(dir: string, content: string, mtime: number): Promise<LayerSpec> {
  const tool = path.join(dir, 'tool');
  await writeFile(tool, content, { mode: 0o600 });
  await utimes(tool, mtime, mtime);
  return {
    createdBy: 'test',
    entries: [
      { path: 'usr/bin/tool', type: 'file', mode: 0o755, from: tool },
      { path: 'bin/tool', type: 'symlink', target: '/usr/bin/tool' },
      { path: 'etc/motd', type: 'file', mode: 0o644, content: 'hello\n' },
      { path: 'tmp', type: 'dir', mode: 0o1777 },
    ],
  };
}

test('a layer is the same bytes whenever and by whomever it is built; its diff_id is the digest of the tar inside', async (t) => {
  const a = await mkdtemp(path.join(tmpdir(), 'kprov-layer-a-'));
  const b = await mkdtemp(path.join(tmpdir(), 'kprov-layer-b-'));
  t.after(() => Promise.all([rm(a, { recursive: true, force: true }), rm(b, { recursive: true, force: true })]));
  // Different source mtimes and modes, and a different umask for the second build.
  const first = await buildLayer(await specWith(a, 'binary v1', 1_000_000), path.join(a, 'work'), path.join(a, 'layer.tgz'));
  const oldUmask = process.umask(0o077);
  let second;
  try {
    second = await buildLayer(await specWith(b, 'binary v1', 2_000_000), path.join(b, 'work'), path.join(b, 'layer.tgz'));
  } finally {
    process.umask(oldUmask);
  }
  assert.deepEqual(second, first);
  const gz = await readFile(path.join(a, 'layer.tgz'));
  assert.equal(first.digest, `sha256:${createHash('sha256').update(gz).digest('hex')}`);
  assert.equal(first.size, gz.length);
  assert.equal(first.diffId, `sha256:${createHash('sha256').update(gunzipSync(gz)).digest('hex')}`);

  // What is inside: sorted names, root-owned, one fixed mtime, the modes the entries ask for.
  const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvzf', path.join(a, 'layer.tgz')], { encoding: 'utf8', env: { TZ: 'UTC', PATH: process.env['PATH'] } })
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/));
  assert.deepEqual(listing.map((f) => f[5]), ['bin/', 'bin/tool', 'etc/', 'etc/motd', 'tmp/', 'usr/', 'usr/bin/', 'usr/bin/tool']);
  assert.deepEqual([...new Set(listing.map((f) => f[1]))], ['0/0']);
  assert.deepEqual([...new Set(listing.map((f) => `${f[3]} ${f[4]}`))], ['1970-01-01 00:00:00']);
  assert.deepEqual(listing.map((f) => f[0]), ['drwxr-xr-x', 'lrwxrwxrwx', 'drwxr-xr-x', '-rw-r--r--', 'drwxrwxrwt', 'drwxr-xr-x', 'drwxr-xr-x', '-rwxr-xr-x']);

  const changed = await buildLayer(await specWith(b, 'binary v2', 1_000_000), path.join(b, 'work'), path.join(b, 'layer2.tgz'));
  assert.notEqual(changed.digest, first.digest);
});

test('the layer key follows what a layer is made of: copied files by their content, not their path or mtime', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-layer-key-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const k1 = await layerKey(await specWith(dir, 'same', 1));
  const k2 = await layerKey(await specWith(dir, 'same', 2));
  const k3 = await layerKey(await specWith(dir, 'other', 1));
  assert.equal(k1, k2);
  assert.notEqual(k1, k3);
  const spec = await specWith(dir, 'same', 1);
  assert.notEqual(await layerKey({ ...spec, entries: [...spec.entries, { path: 'extra', type: 'dir' }] }), k1);
});

test('layer paths must be relative and listed once', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-layer-bad-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const p of ['/etc/x', '../x', 'a/../b', 'a//b']) {
    await assert.rejects(buildLayer({ createdBy: 't', entries: [{ path: p, type: 'dir' }] }, dir, path.join(dir, 'x.tgz')), /must be relative and normalised/, p);
  }
  await assert.rejects(
    buildLayer({ createdBy: 't', entries: [{ path: 'a', type: 'dir' }, { path: 'a', type: 'dir' }] }, dir, path.join(dir, 'y.tgz')),
    /listed twice/,
  );
});
