import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTagList, shouldRun, tagFilter } from '../../../src/engine/tags.js';

const runs = (tags: string[], only: string[], skip: string[] = []) => shouldRun(tags, tagFilter(only, skip));

test('without --tags everything runs except tasks tagged never', () => {
  assert.equal(runs([], []), true);
  assert.equal(runs(['etcd'], []), true);
  assert.equal(runs(['never'], []), false);
  assert.equal(runs(['never', 'debug'], ['debug']), true, 'never tasks run when one of their tags is asked for');
});

test('--tags selects by any tag; always runs unless skipped', () => {
  assert.equal(runs(['ssh-keys'], ['ssh-keys']), true);
  assert.equal(runs(['etcd'], ['ssh-keys']), false);
  assert.equal(runs([], ['ssh-keys']), false);
  assert.equal(runs(['always'], ['ssh-keys']), true);
  assert.equal(runs(['always'], ['ssh-keys'], ['always']), false);
  assert.equal(runs([], ['untagged']), true);
  assert.equal(runs(['x'], ['tagged']), true);
  assert.equal(runs([], ['tagged']), false);
});

test('--skip-tags wins over --tags', () => {
  assert.equal(runs(['etcd', 'certs'], ['etcd'], ['certs']), false);
  assert.equal(runs(['etcd'], [], ['etcd']), false);
  assert.equal(runs(['etcd'], [], ['tagged']), false);
  assert.equal(runs([], [], ['tagged']), true);
  assert.equal(runs(['etcd'], [], ['all']), false);
  assert.equal(runs(['always'], [], ['all']), true);
});

test('tag options may repeat and hold comma lists', () => {
  assert.deepEqual(parseTagList(['a,b', ' c ', '']), ['a', 'b', 'c']);
  assert.deepEqual(parseTagList(undefined), []);
});
