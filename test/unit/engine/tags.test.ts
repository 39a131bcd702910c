import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KprovError } from '../../../src/errors.js';
import { mayRunAnyTask, parseTagList, requireKnownTags, shouldRun, tagFilter } from '../../../src/engine/tags.js';
import { closestMatch as closestTag } from '../../../src/did-you-mean.js';

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

test('did-you-mean: swaps, typos and case count as close; far-off words get no suggestion', () => {
  const known = ['all', 'always', 'cni', 'containerd', 'control-plane', 'etcd', 'network', 'node', 'ssh-keys', 'tagged', 'untagged', 'verify'];
  assert.equal(closestTag('etdc', known), 'etcd');
  assert.equal(closestTag('ETCD', known), 'etcd');
  assert.equal(closestTag('ssh-key', known), 'ssh-keys');
  assert.equal(closestTag('controlplane', known), 'control-plane');
  assert.equal(closestTag('verfiy', known), 'verify');
  assert.equal(closestTag('contain', known), 'containerd', 'the start of a tag');
  assert.equal(closestTag('kubelet', known), undefined);
  assert.equal(closestTag('x', known), undefined);
});

test('unknown tags are a usage error (exit 2) naming every one, with the playbook\'s tags', () => {
  const known = new Set(['etcd', 'node', 'always']);
  requireKnownTags({ tags: ['etcd', 'all', 'tagged'], skipTags: ['never', 'untagged', 'always'] }, known, 'cluster.yml');
  assert.throws(
    () => requireKnownTags({ tags: ['etdc'], skipTags: ['bogus'] }, known, 'cluster.yml'),
    (e: KprovError) =>
      e.code === 'usage' &&
      e.exitCode === 2 &&
      e.message === 'unknown tags "etdc" in --tags (did you mean "etcd"?), "bogus" in --skip-tags' &&
      e.hint === 'cluster.yml has the tags etcd, node; special tags: all, always, never, tagged, untagged',
  );
});

test('a role may run a task when its tags, or its tags with some of its task tags, are selected', () => {
  const only = (tags: string[], skip: string[] = []) => ({ only: tags.length > 0 ? tags : ['all'], skip });
  assert.equal(mayRunAnyTask(['etcd'], ['download'], only(['etcd'])), true);
  assert.equal(mayRunAnyTask(['etcd'], ['download'], only(['download'])), true, 'the download tasks alone');
  assert.equal(mayRunAnyTask(['etcd'], ['download'], only(['ssh-keys'])), false);
  assert.equal(mayRunAnyTask(['node'], ['kubelet', 'nginx'], only([], ['node'])), false, 'skipped by its role tag');
  assert.equal(mayRunAnyTask(['node'], ['always'], only(['ssh-keys'])), true, 'a task tagged always');
  assert.equal(mayRunAnyTask(['facts', 'always'], [], only(['etcd'])), true);
  assert.equal(mayRunAnyTask([], [], only([])), true);
  assert.equal(mayRunAnyTask(['etcd'], [], only(['untagged'])), false);
});
