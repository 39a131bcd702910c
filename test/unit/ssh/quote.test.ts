import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { becomeArgv, commandLine, shellQuote, shScript, withEnv } from '../../../src/ssh/quote.js';

/** Deterministic PRNG (mulberry32) so a failure can be reproduced. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE = [..."'\"$`\\\n\t *?[]~#;&|<>(){}!=-%^,:@+/.\r", 'é', '😀', 'a', 'Z', '0', '$(', '${', "'\\''"];

function randomArg(next: () => number): string {
  const length = Math.floor(next() * 16);
  let s = '';
  for (let i = 0; i < length; i++) s += HOSTILE[Math.floor(next() * HOSTILE.length)];
  return s;
}

const FIXED = [
  '',
  ' ',
  '-',
  '--',
  '-n',
  '--help',
  "'",
  "''",
  "a'b",
  '"',
  '$HOME',
  '$(id)',
  '`id`',
  '\\',
  'a b',
  'line1\nline2',
  '\n',
  '*',
  '~',
  '~root',
  '#comment',
  'A=b',
  'x;rm -rf /tmp/nothing',
  '!',
  '%s',
  'plain-word_1.2:3@4,5+/x',
];

/** Runs `printf '%s\0' ARGS…` through a real shell and returns what the shell passed on. */
function throughShell(shell: string, args: readonly string[]): string[] {
  const line = commandLine(['printf', '%s\\0', ...args]);
  const r = spawnSync(shell, ['-c', line], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const parts = r.stdout.split('\0');
  parts.pop();
  return parts;
}

const shells = ['/bin/sh', '/bin/dash', '/bin/bash'].filter((s) => existsSync(s));

test('hostile arguments survive a real shell unchanged', () => {
  assert.ok(shells.length > 0, 'no shell found');
  for (const shell of shells) {
    assert.deepEqual(throughShell(shell, FIXED), FIXED, shell);
  }
});

test('property: 2000 random hostile arguments round-trip through sh', () => {
  const next = prng(20240913);
  for (let batch = 0; batch < 40; batch++) {
    const args = Array.from({ length: 50 }, () => randomArg(next));
    for (const shell of shells) assert.deepEqual(throughShell(shell, args), args, `${shell} batch ${batch}`);
  }
});

test('plain words stay readable, everything else is single-quoted', () => {
  assert.equal(shellQuote('/etc/kubernetes/kubelet.conf'), '/etc/kubernetes/kubelet.conf');
  assert.equal(shellQuote('--data-dir'), '--data-dir');
  assert.equal(shellQuote(''), "''");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
  // A first word with `=` would be an assignment and `~` would expand: both are quoted.
  assert.equal(shellQuote('A=b'), "'A=b'");
  assert.equal(shellQuote('~'), "'~'");
  assert.equal(commandLine(['echo', 'a b', '$x']), "echo 'a b' '$x'");
});

test('a NUL byte or an empty argv is refused', () => {
  assert.throws(() => shellQuote('a\0b'), /NUL/);
  assert.throws(() => commandLine([]), /empty/);
});

test('env values are passed literally through env(1)', () => {
  const value = "it's $HOME `id` \"q\"\nnext";
  const argv = withEnv(['sh', '-c', 'printf %s "$KPROV_TEST"'], { KPROV_TEST: value });
  assert.deepEqual(argv.slice(0, 2), ['env', `KPROV_TEST=${value}`]);
  const r = spawnSync('/bin/sh', ['-c', commandLine(argv)], { encoding: 'utf8' });
  assert.equal(r.stdout, value);
  assert.throws(() => withEnv(['true'], { 'BAD NAME': 'x' }), /invalid environment variable/);
  assert.deepEqual(withEnv(['true'], {}), ['true']);
});

test('sh scripts get their arguments as positional parameters', () => {
  const args = ["a'b", '-n', '', '$(id)'];
  const argv = shScript('for a in "$@"; do printf "%s\\0" "$a"; done', args);
  const r = spawnSync('/bin/sh', ['-c', commandLine(argv)], { encoding: 'utf8' });
  assert.deepEqual(r.stdout.split('\0').slice(0, -1), args);
});

test('become wraps argv in non-interactive sudo without re-parsing it', () => {
  assert.deepEqual(becomeArgv(['cat', '/etc/shadow'], 'root'), ['sudo', '-n', '-H', '-u', 'root', '--', 'cat', '/etc/shadow']);
  assert.equal(commandLine(becomeArgv(['echo', 'a b'], 'root')), "sudo -n -H -u root -- echo 'a b'");
});
