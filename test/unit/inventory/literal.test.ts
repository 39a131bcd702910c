import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAnsibleBoolean, parseInlineLiteral, pythonTruthy } from '../../../src/inventory/literal.js';

test('inline host values are typed like Python literals, as Ansible types them', () => {
  const cases: [string, unknown][] = [
    ['22', 22],
    ['-3', -3],
    ['0x1F', 31],
    ['0o17', 15],
    ['1_000', 1000],
    ['1.5', 1.5],
    ['1e3', 1000],
    ['True', true],
    ['true', true],
    ['False', false],
    ['None', null],
    ["'quoted'", 'quoted'],
    ['"22"', '22'],
    ["['10.0.0.1', '10.0.0.2']", ['10.0.0.1', '10.0.0.2']],
    ["{'address': '1.2.3.4', 'port': 6443}", { address: '1.2.3.4', port: 6443 }],
    ['10.0.0.1', '10.0.0.1'],
    ['010', '010'],
    ['v1.13.5', 'v1.13.5'],
    ['yes', 'yes'],
    ['[broken', '[broken'],
    ['12345678901234567890', '12345678901234567890'],
  ];
  for (const [text, expected] of cases) assert.deepEqual(parseInlineLiteral(text), expected, text);
});

test('Ansible booleans', () => {
  for (const t of [true, 'yes', 'Yes', 'on', '1', 'true', 'TRUE', 1]) assert.equal(parseAnsibleBoolean(t), true, String(t));
  for (const f of [false, 'no', 'off', '0', 'false', 'False', 0]) assert.equal(parseAnsibleBoolean(f), false, String(f));
  for (const x of ['maybe', 2, null, [], 'ja']) assert.equal(parseAnsibleBoolean(x), undefined, String(x));
});

test('Python truthiness', () => {
  for (const v of ['', [], {}, 0, null, undefined, false]) assert.equal(pythonTruthy(v), false, JSON.stringify(v));
  for (const v of ['x', [0], { a: 1 }, 1, true, 'False']) assert.equal(pythonTruthy(v), true, JSON.stringify(v));
});
