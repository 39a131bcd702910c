/**
 * The stand-in apiserver's watch cache against a scripted etcd (LIST + watch of a prefix): what it
 * serves from memory, the changes it keeps for watches that start in the past, 410 for older ones,
 * and a rebuild from a new LIST when its etcd watch ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { klog } from '../../../dev/standin/common/klog.js';
import type { KeyValue } from '../../../dev/standin/kube-apiserver/etcd.js';
import { WatchGone, type EtcdChange } from '../../../dev/standin/kube-apiserver/etcd-watch.js';
import { WatchCache, type CacheSource } from '../../../dev/standin/kube-apiserver/watch-cache.js';

const PREFIX = '/registry/pods/';
const kv = (name: string, rev: number, value = `{"n":"${name}"}`): KeyValue => ({ key: `${PREFIX}${name}`, value, createRevision: rev, modRevision: rev });

/** A fake etcd: one object store with a revision; the watch the cache opens can be fed and ended. */
function fakeEtcd(initial: KeyValue[], revision: number) {
  const state = { kvs: new Map(initial.map((k) => [k.key, k])), revision, lists: 0 };
  let feed: ((changes: EtcdChange[]) => void) | undefined;
  let end: ((err?: Error) => void) | undefined;
  const source: CacheSource = {
    async list() {
      state.lists++;
      return { kvs: [...state.kvs.values()], revision: state.revision };
    },
    async watch(_prefix, _after, onChanges, onEnd) {
      feed = onChanges;
      end = onEnd;
      return () => {
        feed = undefined;
      };
    },
  };
  const put = (name: string) => {
    const rev = ++state.revision;
    const prev = state.kvs.get(`${PREFIX}${name}`);
    const next = kv(name, rev, `{"n":"${name}","rev":${rev}}`);
    state.kvs.set(next.key, next);
    feed?.([{ type: 'put', kv: next, ...(prev ? { prev } : {}) }]);
    return rev;
  };
  const del = (name: string) => {
    const rev = ++state.revision;
    const prev = state.kvs.get(`${PREFIX}${name}`)!;
    state.kvs.delete(prev.key);
    feed?.([{ type: 'delete', kv: { key: prev.key, value: '', createRevision: 0, modRevision: rev }, prev }]);
    return rev;
  };
  return { source, state, put, del, endWatch: (err?: Error) => end?.(err) };
}

const quiet = klog('watch-cache.go', () => {});
const settle = () => new Promise((r) => setImmediate(r));

test('serves GET and LIST from one LIST and one watch, following the changes', async () => {
  const etcd = fakeEtcd([kv('a', 5), kv('b', 6)], 10);
  const cache = new WatchCache(etcd.source, PREFIX, () => true, quiet, 'pods');
  assert.equal(cache.list(PREFIX), undefined, 'not current before its first LIST');
  cache.start();
  await settle();
  assert.deepEqual(cache.list(PREFIX)?.kvs.map((k) => k.key), [`${PREFIX}a`, `${PREFIX}b`]);
  assert.equal(cache.list(PREFIX)?.revision, 10);
  etcd.put('c');
  etcd.del('a');
  assert.deepEqual(cache.list(PREFIX)?.kvs.map((k) => k.key), [`${PREFIX}b`, `${PREFIX}c`]);
  assert.equal(cache.list(PREFIX)?.revision, 12);
  assert.equal(cache.get(`${PREFIX}c`)?.kv?.modRevision, 11);
  assert.deepEqual(cache.get(`${PREFIX}a`), { kv: undefined });
  assert.equal(etcd.state.lists, 1);
  cache.stop();
});

test('a watch from now gets the current objects, then only later changes', async () => {
  const etcd = fakeEtcd([kv('a', 5)], 10);
  const cache = new WatchCache(etcd.source, PREFIX, () => true, quiet, 'pods');
  cache.start();
  await settle();
  const seen: string[] = [];
  const w = cache.watch(PREFIX, undefined, (changes) => seen.push(...changes.map((c) => `${c.type} ${c.kv.key} ${c.kv.modRevision}`)), () => {})!;
  assert.deepEqual(w.initial.map((k) => k.key), [`${PREFIX}a`]);
  assert.deepEqual(w.backlog, []);
  etcd.put('b');
  w.close();
  etcd.put('c');
  assert.deepEqual(seen, [`put ${PREFIX}b 11`]);
  cache.stop();
});

test('a watch from a kept revision gets the changes after it; an older one is 410 Gone', async () => {
  const etcd = fakeEtcd([], 10);
  const cache = new WatchCache(etcd.source, PREFIX, () => true, quiet, 'pods');
  cache.start();
  await settle();
  for (let i = 0; i < 120; i++) etcd.put(`p${i}`);
  // 120 changes (revisions 11–130); the last 100 are kept: a watch may start after revision 30.
  assert.throws(() => cache.watch(PREFIX, 29, () => {}, () => {}), (err: unknown) => err instanceof WatchGone && /too old resource version: 29 \(30\)/.test(err.message));
  const w = cache.watch(PREFIX, 128, () => {}, () => {})!;
  assert.deepEqual(w.backlog.map((c) => c.kv.modRevision), [129, 130]);
  const from30 = cache.watch(PREFIX, 30, () => {}, () => {})!;
  assert.equal(from30.backlog.length, 100);
  cache.stop();
});

test('when its etcd watch ends, its watches end and it lists again; meanwhile it serves nothing', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const etcd = fakeEtcd([kv('a', 5)], 10);
  const cache = new WatchCache(etcd.source, PREFIX, () => true, quiet, 'pods');
  cache.start();
  await settle();
  let ended: Error | undefined | 'no' = 'no';
  cache.watch(PREFIX, undefined, () => {}, (err) => (ended = err));
  etcd.endWatch(new Error('etcd watch: the stream ended'));
  assert.match(String(ended), /stream ended/);
  assert.equal(cache.list(PREFIX), undefined);
  assert.equal(cache.get(`${PREFIX}a`), undefined);
  assert.equal(cache.watch(PREFIX, undefined, () => {}, () => {}), undefined);
  t.mock.timers.tick(1000);
  await settle();
  assert.equal(etcd.state.lists, 2);
  assert.deepEqual(cache.list(PREFIX)?.kvs.map((k) => k.key), [`${PREFIX}a`]);
  cache.stop();
});

test('keys below the prefix that are not the resource\'s own are left out', async () => {
  const etcd = fakeEtcd([kv('a', 5), { ...kv('x', 6), key: `${PREFIX}deep/er/x` }], 10);
  const cache = new WatchCache(etcd.source, PREFIX, (key) => key.slice(PREFIX.length).split('/').length === 1, quiet, 'pods');
  cache.start();
  await settle();
  assert.deepEqual(cache.list(PREFIX)?.kvs.map((k) => k.key), [`${PREFIX}a`]);
  cache.stop();
});
