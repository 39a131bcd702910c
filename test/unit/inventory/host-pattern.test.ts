import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandHostPattern, HostPatternError } from '../../../src/inventory/host-pattern.js';

const names = (p: string) => expandHostPattern(p).names;

test('numeric ranges, with zero padding taken from the bounds', () => {
  assert.deepEqual(names('node[1:3]'), ['node1', 'node2', 'node3']);
  assert.deepEqual(names('node[01:03]'), ['node01', 'node02', 'node03']);
  assert.deepEqual(names('node[08:11]'), ['node08', 'node09', 'node10', 'node11']);
  assert.deepEqual(names('node[:2]'), ['node0', 'node1', 'node2']);
  assert.equal(names('node[001:100]').length, 100);
  assert.equal(names('node[001:100]')[99], 'node100');
});

test('strides, letter ranges and several ranges in one name', () => {
  assert.deepEqual(names('node[01:09:4]'), ['node01', 'node05', 'node09']);
  assert.deepEqual(names('db-[a:c].example.com'), ['db-a.example.com', 'db-b.example.com', 'db-c.example.com']);
  assert.deepEqual(names('[a:e:2]x'), ['ax', 'cx', 'ex']);
  assert.deepEqual(names('r[1:2]n[a:b]'), ['r1na', 'r1nb', 'r2na', 'r2nb']);
});

test('a port after the name (outside the ranges)', () => {
  assert.deepEqual(expandHostPattern('node1:2222'), { names: ['node1'], port: 2222 });
  assert.deepEqual(expandHostPattern('node[1:2]:2200'), { names: ['node1', 'node2'], port: 2200 });
  assert.deepEqual(expandHostPattern('10.0.0.1'), { names: ['10.0.0.1'] });
});

test('bad ranges are errors with the offending offset', () => {
  const cases: [string, RegExp][] = [
    ['node[5:1]', /must have start <= end/],
    ['node[01:100]', /same width/],
    ['node[1-3]', /bad range "\[1-3\]"/],
    ['node[1:3', /"\[" without a matching "\]"/],
    ['node1:3]', /bad port|without a matching/],
    ['node[a:3]', /numbers .* or single letters/],
    ['node[1:]', /has no end/],
    ['node[1:9:0]', /step "0" must be a positive integer/],
    ['node[1:100000]', /more than 10000 hosts/],
    ['node1:99999', /port 99999 is out of range/],
    ['node1,node2', /"," is not allowed.*one host per line/],
  ];
  for (const [pattern, message] of cases) {
    assert.throws(() => expandHostPattern(pattern), (err: unknown) => err instanceof HostPatternError && message.test(err.message), pattern);
  }
  const err = (() => {
    try {
      expandHostPattern('web[1-3]');
    } catch (e) {
      return e as HostPatternError;
    }
    return undefined;
  })();
  assert.equal(err?.offset, 3);
});
