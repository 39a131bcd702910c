/**
 * etcd v3 watches over gRPC: the changes under a key prefix from a revision on, with each change's
 * previous value so that a watcher can tell what a deleted or modified object was. As clientv3
 * does, every watch of one apiserver shares one bidirectional `Watch` stream (one HTTP/2 stream on
 * the connection to the member that answered last), told apart by watch ID; the stream is opened
 * for the first watch and closed when the last one goes.
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { int64, prefixEnd, rpcErrorMessage, toKv, type EtcdClient, type KeyValue, type WatchResponse } from './etcd.js';

export interface EtcdChange {
  type: 'put' | 'delete';
  kv: KeyValue;
  prev?: KeyValue;
}

export class WatchGone extends Error {
  override readonly name = 'WatchGone';
}

interface Watcher {
  afterRevision: number;
  onChanges: (changes: EtcdChange[]) => void;
  end: (err?: Error) => void;
}

/** One Watch stream and the watches on it. */
class WatchStream {
  private nextId = 1;
  readonly watchers = new Map<string, Watcher>();
  private done = false;

  constructor(
    private readonly stream: ClientDuplexStream<object, WatchResponse>,
    private readonly onClosed: () => void,
  ) {
    stream.on('data', (res: WatchResponse) => this.receive(res));
    stream.on('error', (err: unknown) => this.fail(new Error(`etcd watch: ${rpcErrorMessage(err)}`)));
    stream.on('end', () => this.fail(new Error('etcd watch: the stream ended')));
  }

  add(prefix: string, watcher: Watcher): string {
    const id = String(this.nextId++);
    this.watchers.set(id, watcher);
    this.stream.write({
      createRequest: {
        key: Buffer.from(prefix, 'utf8'),
        rangeEnd: prefixEnd(prefix),
        startRevision: String(watcher.afterRevision + 1),
        prevKv: true,
        watchId: id,
      },
    });
    return id;
  }

  /** The watch's owner closed it: cancel it at etcd; the last one closes the stream. */
  remove(id: string): void {
    const had = this.watchers.delete(id);
    if (this.done) return;
    if (this.watchers.size === 0) return this.close();
    if (had) this.stream.write({ cancelRequest: { watchId: id } });
  }

  private receive(res: WatchResponse): void {
    const watcher = this.watchers.get(String(res.watchId));
    if (!watcher) return;
    const compacted = int64(res.compactRevision);
    if (compacted !== 0) {
      return watcher.end(new WatchGone(`too old resource version: ${watcher.afterRevision} (${compacted})`));
    }
    if (res.canceled) {
      return watcher.end(new Error(`etcd watch canceled: ${res.cancelReason ?? ''}`));
    }
    if (!res.events || res.events.length === 0) return;
    const changes: EtcdChange[] = [];
    for (const e of res.events) {
      if (!e.kv) continue;
      changes.push({ type: e.type === 1 ? 'delete' : 'put', kv: toKv(e.kv), ...(e.prevKv ? { prev: toKv(e.prevKv) } : {}) });
    }
    if (changes.length > 0) watcher.onChanges(changes);
  }

  private fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.onClosed();
    const watchers = [...this.watchers.values()];
    this.watchers.clear();
    for (const w of watchers) w.end(err);
  }

  private close(): void {
    if (this.done) return;
    this.done = true;
    this.onClosed();
    this.stream.end();
    this.stream.cancel();
  }
}

const streams = new WeakMap<EtcdClient, WatchStream>();

function streamOf(etcd: EtcdClient): WatchStream {
  let ws = streams.get(etcd);
  if (!ws) {
    const { stream } = etcd.openWatchStream();
    const created: WatchStream = new WatchStream(stream, () => {
      if (streams.get(etcd) === created) streams.delete(etcd);
    });
    ws = created;
    streams.set(etcd, ws);
  }
  return ws;
}

/**
 * Calls `onChanges` for every batch of changes under `prefix` after `afterRevision`, until the
 * returned `close` is called or the watch ends (`onEnd`, with the reason when it failed).
 */
export async function watchPrefix(
  etcd: EtcdClient,
  prefix: string,
  afterRevision: number,
  onChanges: (changes: EtcdChange[]) => void,
  onEnd: (err?: Error) => void,
): Promise<() => void> {
  let ended = false;
  const ws = streamOf(etcd);
  let id = '';
  const end = (err?: Error) => {
    if (ended) return;
    ended = true;
    ws.remove(id);
    onEnd(err);
  };
  id = ws.add(prefix, { afterRevision, onChanges: (changes) => !ended && onChanges(changes), end });
  return () => end();
}
