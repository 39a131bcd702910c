import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  KnownHostsFile,
  entryMatches,
  formatKnownHostsLine,
  parseKnownHosts,
  pinnedKeyTypes,
  verdictFor,
} from '../../../src/ssh/known-hosts.js';
import { needsCommands } from '../../support/needs-commands.js';
import { keygen, sshKeygen, type TestKey } from '../../support/ssh-keygen.js';
import { processTempDir } from '../../support/temp-dir.js';

const dir = processTempDir();
const needsKeygen = needsCommands('ssh-keygen');

let keys: { ed: TestKey; ec: TestKey; other: TestKey } | undefined;
/** Host keys made by OpenSSH itself, once, by the first test that needs them (none run without ssh-keygen). */
function hostKeys(): { ed: TestKey; ec: TestKey; other: TestKey } {
  keys ??= { ed: sshKeygen(dir, 'host-ed', 'ed25519'), ec: sshKeygen(dir, 'host-ec', 'ecdsa'), other: sshKeygen(dir, 'other-ed', 'ed25519') };
  return keys;
}

test('lines we write are found by ssh-keygen -F, and removed by ssh-keygen -R', needsKeygen, () => {
  const { ed, ec } = hostKeys();
  const file = path.join(dir, 'kh-plain');
  writeFileSync(file, `${formatKnownHostsLine('10.0.0.1', ed.blob)}\n${formatKnownHostsLine('[10.0.0.2]:2222', ec.blob)}\n`);
  assert.match(keygen(['-F', '10.0.0.1', '-f', file]), /ssh-ed25519/);
  assert.match(keygen(['-F', '[10.0.0.2]:2222', '-f', file]), /ecdsa-sha2-nistp256/);
  keygen(['-R', '[10.0.0.2]:2222', '-f', file]);
  const left = parseKnownHosts(readFileSync(file, 'utf8'));
  assert.equal(left.length, 1);
  assert.equal(verdictFor(left, '[10.0.0.2]:2222', ec.blob).kind, 'unknown');
});

test('entries hashed by ssh-keygen -H are read and matched', needsKeygen, () => {
  const { ed, ec, other } = hostKeys();
  const file = path.join(dir, 'kh-hashed');
  writeFileSync(file, `${formatKnownHostsLine('10.0.0.1', ed.blob)}\n${formatKnownHostsLine('[10.0.0.2]:2222', ec.blob)}\n`);
  keygen(['-H', '-f', file]);
  const text = readFileSync(file, 'utf8');
  assert.doesNotMatch(text, /10\.0\.0/, 'ssh-keygen -H should have hashed the names');
  const entries = parseKnownHosts(text);
  assert.equal(entries.length, 2);
  assert.ok(entries.every((e) => e.hosts.kind === 'hashed'));
  assert.equal(verdictFor(entries, '10.0.0.1', ed.blob).kind, 'trusted');
  assert.equal(verdictFor(entries, '[10.0.0.2]:2222', ec.blob).kind, 'trusted');
  // Same address, other port: a different name.
  assert.equal(verdictFor(entries, '10.0.0.2', ec.blob).kind, 'unknown');
  const changed = verdictFor(entries, '10.0.0.1', other.blob);
  assert.equal(changed.kind, 'changed');
  assert.equal(changed.kind === 'changed' && changed.pinned[0]?.line, 1);
});

test('patterns: lists, wildcards, negation, comments, markers', needsKeygen, () => {
  const { ed } = hostKeys();
  const b64 = ed.blob.toString('base64');
  const text = [
    '# a comment',
    '',
    `*.example.com,!bad.example.com ssh-ed25519 ${b64}`,
    `10.1.0.? ssh-ed25519 ${b64} trailing comment`,
    `@revoked 10.9.9.9 ssh-ed25519 ${b64}`,
    `@cert-authority *.ca.test ssh-ed25519 ${b64}`,
    'garbage',
  ].join('\n');
  const entries = parseKnownHosts(text);
  assert.equal(entries.length, 4);
  assert.ok(entryMatches(entries[0]!, 'web.example.com'));
  assert.ok(!entryMatches(entries[0]!, 'bad.example.com'));
  assert.ok(entryMatches(entries[1]!, '10.1.0.7'));
  assert.ok(!entryMatches(entries[1]!, '10.1.0.17'));
  assert.equal(verdictFor(entries, 'web.example.com', ed.blob).kind, 'trusted');
  assert.equal(verdictFor(entries, '10.9.9.9', ed.blob).kind, 'revoked');
  // A CA line pins no host key.
  assert.equal(verdictFor(entries, 'x.ca.test', ed.blob).kind, 'unknown');
});

test('several key types per host: any pinned one is trusted, types are reported for negotiation', needsKeygen, () => {
  const { ed, ec } = hostKeys();
  const entries = parseKnownHosts(`${formatKnownHostsLine('h', ed.blob)}\n${formatKnownHostsLine('h', ec.blob)}\n`);
  assert.equal(verdictFor(entries, 'h', ec.blob).kind, 'trusted');
  assert.deepEqual(pinnedKeyTypes(entries, 'h'), ['ssh-ed25519', 'ecdsa-sha2-nistp256']);
});

test('concurrent first connections to 60 hosts lose no entry, and a host is pinned once', needsKeygen, async () => {
  const { ed } = hostKeys();
  const file = path.join(dir, 'sub', 'known_hosts');
  const kh = new KnownHostsFile(file);
  const names = Array.from({ length: 60 }, (_, i) => `[10.2.0.${i}]:22${i % 10}`);
  const verdicts = await Promise.all([...names, ...names].map((n) => kh.trust(n, ed.blob)));
  assert.equal(verdicts.filter((v) => v.kind === 'unknown').length, 60);
  assert.equal(verdicts.filter((v) => v.kind === 'trusted').length, 60);
  const entries = parseKnownHosts(readFileSync(file, 'utf8'));
  assert.equal(entries.length, 60);
  for (const n of names) assert.equal(verdictFor(entries, n, ed.blob).kind, 'trusted');
  // A second instance (another run) reads the same file.
  assert.equal(verdictFor(await new KnownHostsFile(file).load(), names[5]!, ed.blob).kind, 'trusted');
});

test('appending to a file without a final newline keeps lines apart', needsKeygen, async () => {
  const { ed, ec } = hostKeys();
  const file = path.join(dir, 'kh-nonl');
  writeFileSync(file, formatKnownHostsLine('a', ed.blob));
  await new KnownHostsFile(file).trust('b', ec.blob);
  const entries = parseKnownHosts(readFileSync(file, 'utf8'));
  assert.equal(entries.length, 2);
  assert.equal(verdictFor(entries, 'a', ed.blob).kind, 'trusted');
  assert.equal(verdictFor(entries, 'b', ec.blob).kind, 'trusted');
});
