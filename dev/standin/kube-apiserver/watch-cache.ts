/**
 * The apiserver's watch cache, as v1.13's cacher keeps one per resource: one etcd LIST and then one
 * etcd watch on the resource's key prefix, kept in memory, with the last DEFAULT_CAPACITY changes.
 * It serves what v1.13 serves from it: every client watch (the current objects as ADDED when the
 * watch names no resourceVersion or "0", else the changes after that version, 410 Expired when
 * they are no longer kept), GET and LIST with `resourceVersion=0`, and the object an update
 * starts from (GuaranteedUpdate's suggestion: the write is a compare-and-swap on the cached
 * revision, and only a failed one reads etcd). Quorum reads (no resourceVersion) go to etcd.
 *
 * When its etcd watch ends (a member going away, a compaction) the cache is rebuilt from a new
 * LIST; the client watches it served end, so their clients watch again, and until it is rebuilt
 * reads and watches go to etcd as without a cache.
 */
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/klog.js';
import type { KeyValue } from './etcd.js';
import { WatchGone, type EtcdChange } from './etcd-watch.js';

/** Where a cache reads from: etcd's LIST and watch of a key prefix (etcd.ts, etcd-watch.ts). */
export interface CacheSource {
  list(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }>;
  watch(prefix: string, afterRevision: number, onChanges: (changes: EtcdChange[]) => void, onEnd: (err?: Error) => void): Promise<() => void>;
}

/** v1.13's --default-watch-cache-size: the changes kept for watches that start in the past. */
const DEFAULT_CAPACITY = 100;
const RELIST_DELAY_MS = 1000;

interface Subscriber {
  after: number;
  onChanges: (changes: EtcdChange[]) => void;
  onEnd: (err?: Error) => void;
}

export class WatchCache {
  private readonly items = new Map<string, KeyValue>();
  /** Kept changes, oldest first; each with its revision (kv.modRevision: the deletion's for a delete). */
  private readonly history: EtcdChange[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private ready = false;
  /** The revision the cache is current at. */
  private revision = 0;
  /** A watch may start after any revision ≥ this one (older changes are gone from the history). */
  private oldest = 0;
  private closeWatch: (() => void) | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: CacheSource,
    readonly prefix: string,
    /** Whether a key below the prefix is one of this resource's objects. */
    private readonly owns: (key: string) => boolean,
    private readonly log: Logger,
    private readonly resource: string,
  ) {}

  start(): void {
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.reset();
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    try {
      const { kvs, revision } = await this.source.list(this.prefix);
      if (this.stopped) return;
      this.items.clear();
      for (const kv of kvs) if (this.owns(kv.key)) this.items.set(kv.key, kv);
      this.history.length = 0;
      this.revision = revision;
      this.oldest = revision;
      this.ready = true;
      this.closeWatch = await this.source.watch(
        this.prefix,
        revision,
        (changes) => this.apply(changes),
        (err) => {
          if (this.stopped) return;
          if (err && !(err instanceof WatchGone)) this.log.warning(`watch cache of ${this.resource}: ${messageOf(err)}; listing again`);
          this.reset(err);
          this.timer = setTimeout(() => void this.relist(), RELIST_DELAY_MS);
        },
      );
    } catch (err) {
      if (this.stopped) return;
      this.log.warning(`watch cache of ${this.resource}: ${messageOf(err)}; listing again`);
      this.reset(err instanceof Error ? err : new Error(messageOf(err)));
      this.timer = setTimeout(() => void this.relist(), RELIST_DELAY_MS);
    }
  }

  /** Not current any more: reads go to etcd, and the watches it served end. */
  private reset(err?: Error): void {
    this.ready = false;
    this.closeWatch?.();
    this.closeWatch = undefined;
    const subscribers = [...this.subscribers];
    this.subscribers.clear();
    for (const s of subscribers) s.onEnd(err instanceof WatchGone ? undefined : err);
  }

  private apply(changes: EtcdChange[]): void {
    const mine = changes.filter((c) => this.owns(c.kv.key));
    for (const c of changes) this.revision = Math.max(this.revision, c.kv.modRevision);
    if (mine.length === 0) return;
    for (const c of mine) {
      if (c.type === 'delete') this.items.delete(c.kv.key);
      else this.items.set(c.kv.key, c.kv);
      this.history.push(c);
    }
    while (this.history.length > DEFAULT_CAPACITY) this.oldest = this.history.shift()!.kv.modRevision;
    for (const s of [...this.subscribers]) {
      const batch = mine.filter((c) => c.kv.modRevision > s.after);
      if (batch.length > 0) s.onChanges(batch);
    }
  }

  /** The objects under `prefix` (a namespace's or all), or undefined while the cache is not current. */
  list(prefix: string): { kvs: KeyValue[]; revision: number } | undefined {
    if (!this.ready) return undefined;
    const kvs = [...this.items.values()].filter((kv) => kv.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { kvs, revision: this.revision };
  }

  /** One object as the cache has it: `{ kv: undefined }` when it has none; undefined while not current. */
  get(key: string): { kv: KeyValue | undefined } | undefined {
    if (!this.ready) return undefined;
    return { kv: this.items.get(key) };
  }

  /**
   * A watch served by the cache: the changes after `after` (undefined: from now, with the current
   * objects under `prefix` in `initial`). Undefined while the cache is not current; throws
   * WatchGone when the changes after `after` are no longer kept.
   */
  watch(
    prefix: string,
    after: number | undefined,
    onChanges: (changes: EtcdChange[]) => void,
    onEnd: (err?: Error) => void,
  ): { initial: KeyValue[]; backlog: EtcdChange[]; close: () => void } | undefined {
    if (!this.ready) return undefined;
    let initial: KeyValue[] = [];
    let backlog: EtcdChange[] = [];
    if (after === undefined) {
      initial = this.list(prefix)!.kvs;
    } else {
      if (after < this.oldest) throw new WatchGone(`too old resource version: ${after} (${this.oldest})`);
      backlog = this.history.filter((c) => c.kv.modRevision > after && c.kv.key.startsWith(prefix));
    }
    const s: Subscriber = {
      // Later changes only (a client may know a revision the cache has not reached yet).
      after: Math.max(after ?? 0, this.revision),
      onChanges: (changes) => {
        const inScope = changes.filter((c) => c.kv.key.startsWith(prefix));
        if (inScope.length > 0) onChanges(inScope);
      },
      onEnd,
    };
    this.subscribers.add(s);
    // The caller sends `initial`, then `backlog`, before anything live can arrive (the next I/O).
    return { initial, backlog, close: () => void this.subscribers.delete(s) };
  }
}
