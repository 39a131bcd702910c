import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findAptMirror, parseDeb822Sources, parseOneLineSources, pickMirror, readAptSources } from '../../../src/lab/apt-mirror.js';

const DEB822 = `Types: deb
# a comment inside the stanza
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
`;

test('deb822 stanzas are parsed, disabled ones skipped', () => {
  const sources = parseDeb822Sources(DEB822, 'debian.sources');
  assert.equal(sources.length, 2);
  assert.deepEqual(sources[0]?.suites, ['bookworm', 'bookworm-updates']);
  assert.deepEqual(sources[1]?.uris, ['http://security.example/debian-security']);
});

test('deb822 folded fields continue on indented lines', () => {
  const [s] = parseDeb822Sources('Types: deb\nURIs:\n http://a.example/debian\n http://b.example/debian\nSuites: bookworm\n', 'x.sources');
  assert.deepEqual(s?.uris, ['http://a.example/debian', 'http://b.example/debian']);
});

test('one-line entries with options and comments', () => {
  const sources = parseOneLineSources(
    '# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main contrib # trailing\ndeb-src http://m.example/debian bookworm main\n',
    'sources.list',
  );
  assert.equal(sources.length, 2);
  assert.deepEqual(sources[0], { types: ['deb'], uris: ['http://m.example/debian'], suites: ['bookworm'], components: ['main', 'contrib'], file: 'sources.list' });
});

test('the mirror is the deb URI serving exactly the suite, without a trailing slash', () => {
  const sources = [...parseOneLineSources('deb-src http://src.example/debian bookworm main\n', 'a'), ...parseDeb822Sources(DEB822, 'b')];
  assert.equal(pickMirror(sources, 'bookworm'), 'http://mirror.example/debian');
  assert.equal(pickMirror(sources, 'trixie'), undefined);
});

test('reads sources.list and sources.list.d in order; only .list and .sources files count', async () => {
  const etc = await mkdtemp(path.join(tmpdir(), 'kprov-apt-'));
  await mkdir(path.join(etc, 'sources.list.d'));
  await writeFile(path.join(etc, 'sources.list.d', 'b.sources'), DEB822);
  await writeFile(path.join(etc, 'sources.list.d', 'a.list.disabled'), 'deb http://disabled.example/debian bookworm main\n');
  assert.equal(await findAptMirror('bookworm', etc), 'http://mirror.example/debian');
  await writeFile(path.join(etc, 'sources.list'), 'deb http://first.example/debian bookworm main\n');
  assert.equal(await findAptMirror('bookworm', etc), 'http://first.example/debian');
  assert.equal((await readAptSources(etc)).length, 3);
});

test('no mirror for the suite is a one-line error with a hint', async () => {
  const etc = await mkdtemp(path.join(tmpdir(), 'kprov-apt-'));
  await assert.rejects(findAptMirror('bookworm', etc), (err: Error & { hint?: string }) => {
    assert.match(err.message, /no Debian mirror for "bookworm"/);
    assert.match(err.hint ?? '', /deb <mirror> bookworm main/);
    return true;
  });
});
