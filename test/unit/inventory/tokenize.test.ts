import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKprovError } from '../../../src/errors.js';
import { inlineCommentStart, splitVarsLine, tokenizeHostLine } from '../../../src/inventory/ini-tokenize.js';

const at = { file: 'inventory.ini', line: 7 };
const texts = (line: string) => tokenizeHostLine(line, at).map((t) => t.text);

test('host lines split on whitespace and keep each token\'s column', () => {
  const tokens = tokenizeHostLine('node1  ansible_host=95.54.0.12\tip=10.3.0.1', at);
  assert.deepEqual(tokens, [
    { text: 'node1', column: 1 },
    { text: 'ansible_host=95.54.0.12', column: 8 },
    { text: 'ip=10.3.0.1', column: 32 },
  ]);
});

test('quotes group words as a shell does', () => {
  assert.deepEqual(texts(`node1 a="x y" b='p q' c=pre"mid dle"post`), ['node1', 'a=x y', 'b=p q', 'c=premid dlepost']);
  assert.deepEqual(texts(`n d="say \\"hi\\" \\\\ \\n"`), ['n', 'd=say "hi" \\ \\n']);
  assert.deepEqual(texts(`n s='no \\" escapes'`), ['n', 's=no \\" escapes']);
  assert.deepEqual(texts('n e=a\\ b'), ['n', 'e=a b']);
  assert.deepEqual(texts(`n empty="" also=''`), ['n', 'empty=', 'also=']);
});

test('# and ; start a comment only at the start of a token', () => {
  assert.deepEqual(texts('node1 ip=10.0.0.1 # the first'), ['node1', 'ip=10.0.0.1']);
  assert.deepEqual(texts('node1 ip=10.0.0.1 ; the first'), ['node1', 'ip=10.0.0.1']);
  assert.deepEqual(texts('node1 pw=a#b;c'), ['node1', 'pw=a#b;c']);
  assert.deepEqual(texts('node1 pw="# not a comment"'), ['node1', 'pw=# not a comment']);
  assert.deepEqual(texts('   # only a comment'), []);
});

test('an unterminated quote is an error at the opening quote', () => {
  assert.throws(
    () => tokenizeHostLine('node1 ansible_host="10.0.0.1', at),
    (err: unknown) =>
      isKprovError(err) &&
      err.location?.line === 7 &&
      err.location.column === 20 &&
      /unterminated quote: found " with no closing "/.test(err.message),
  );
});

test(':vars lines: the value is everything after =, minus an inline comment, unquoted by ini', () => {
  const loc = { file: 'inventory.ini', line: 3 };
  assert.deepEqual(splitVarsLine('ansible_user=ubuntu', loc, 'all:vars'), { key: 'ansible_user', value: 'ubuntu', keyColumn: 1 });
  assert.deepEqual(splitVarsLine('  opts = --a --b   # why', loc, 'all:vars'), { key: 'opts', value: '--a --b', keyColumn: 3 });
  assert.equal(splitVarsLine('x="a \\"quoted\\" word" ; c', loc, 'g:vars').value, 'a "quoted" word');
  assert.equal(splitVarsLine("x='single # kept'", loc, 'g:vars').value, 'single # kept');
  assert.equal(splitVarsLine('url=http://h/#frag', loc, 'g:vars').value, 'http://h/#frag');
  assert.equal(splitVarsLine('empty=', loc, 'g:vars').value, '');
});

test(':vars lines without = or with a bad name are errors naming the section', () => {
  const loc = { file: 'inventory.ini', line: 9 };
  assert.throws(() => splitVarsLine('ansible_user ubuntu', loc, 'all:vars'), /expected key=value in \[all:vars\], found "ansible_user ubuntu"/);
  assert.throws(() => splitVarsLine('bad-name=1', loc, 'all:vars'), /invalid variable name "bad-name"/);
});

test('inlineCommentStart ignores quoted comment characters', () => {
  assert.equal(inlineCommentStart('a "b # c" # d'), 10);
  assert.equal(inlineCommentStart("a 'b ; c'"), -1);
  assert.equal(inlineCommentStart('a#b'), -1);
});
