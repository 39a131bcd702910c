import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createPasswordPrompt } from '../../../src/ssh/password-prompt.js';

function fakeTty() {
  const input = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode(raw: boolean): void; raw: boolean[] };
  input.isTTY = true;
  input.raw = [];
  input.setRawMode = (raw: boolean) => void input.raw.push(raw);
  let shown = '';
  const output = { write: (t: string) => (shown += t) };
  return { input, output, shown: () => shown };
}

test('reads a line in raw mode without echoing it', async () => {
  const tty = fakeTty();
  const prompt = createPasswordPrompt(tty.input, tty.output, 'pw: ');
  assert.ok(prompt);
  const answer = prompt();
  tty.input.write('s3cr');
  tty.input.write('x\u007fet pass\r');
  assert.equal(await answer, 's3cret pass');
  assert.equal(tty.shown(), 'pw: \n');
  assert.deepEqual(tty.input.raw, [true, false]);
});

test('Ctrl-C, Ctrl-D and an empty line mean no password', async () => {
  for (const keys of ['\u0003', '\u0004', '\r', 'abc\u0015\n']) {
    const tty = fakeTty();
    const answer = createPasswordPrompt(tty.input, tty.output)!();
    tty.input.write(keys);
    assert.equal(await answer, undefined, JSON.stringify(keys));
  }
});

test('no prompt without a terminal', () => {
  const input = new PassThrough();
  assert.equal(createPasswordPrompt(input, { write: () => undefined }), undefined);
});
