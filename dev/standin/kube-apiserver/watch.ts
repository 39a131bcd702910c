/**
 * `?watch=1` on a list URL: newline-delimited watch events (ADDED, MODIFIED, DELETED) from an etcd
 * watch, filtered by the request's label and field selectors the way the v1.13 watch cache does
 * (an object that stops matching is DELETED for that watcher, one that starts matching ADDED).
 * Without a resourceVersion the current objects come first as ADDED. Bounded by timeoutSeconds.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/klog.js';
import type { EtcdClient } from './etcd.js';
import { watchPrefix, WatchGone, type EtcdChange } from './etcd-watch.js';
import { StatusError, type Obj, type Registry } from './registry.js';
import type { ResourceDef } from './resources.js';
import type { WatchCache } from './watch-cache.js';

// The apiserver's --min-request-timeout default: watches end after about this long.
const MAX_WATCH_SECONDS = 1800;

interface WatchRequest {
  def: ResourceDef;
  namespace: string | undefined;
  resourceVersion: string;
  timeoutSeconds: number;
  matches: (o: Obj) => boolean;
}

export function watchRequest(def: ResourceDef, namespace: string | undefined, query: URLSearchParams, matches: (o: Obj) => boolean): WatchRequest {
  const asked = Number(query.get('timeoutSeconds') ?? '');
  const timeoutSeconds = Number.isInteger(asked) && asked > 0 ? Math.min(asked, MAX_WATCH_SECONDS) : MAX_WATCH_SECONDS;
  return { def, namespace, resourceVersion: query.get('resourceVersion') ?? '', timeoutSeconds, matches };
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** What one etcd change means for a watcher with these selectors, if anything. */
function eventFor(registry: Registry, def: ResourceDef, change: EtcdChange, matches: (o: Obj) => boolean): { type: EventType; object: Obj } | undefined {
  const before = change.prev ? registry.decode(def, change.prev) : undefined;
  const wasIn = before !== undefined && matches(before);
  if (change.type === 'delete') {
    if (!wasIn) return undefined;
    // A deleted object carries the revision of its deletion, as the watch cache sends it.
    const meta = { ...(before.metadata ?? {}), resourceVersion: String(change.kv.modRevision) };
    return { type: 'DELETED', object: { ...before, metadata: meta } };
  }
  const after = registry.decode(def, change.kv);
  const isIn = matches(after);
  if (isIn && wasIn) return { type: 'MODIFIED', object: after };
  if (isIn) return { type: 'ADDED', object: after };
  if (wasIn) return { type: 'DELETED', object: after };
  return undefined;
}

export async function serveWatch(ctx: { registry: Registry; etcd: EtcdClient; log: Logger }, req: IncomingMessage, res: ServerResponse, w: WatchRequest): Promise<void> {
  const { registry } = ctx;
  const { prefix, owns } = registry.scope(w.def, w.namespace);
  const fromNow = w.resourceVersion === '' || w.resourceVersion === '0';
  let from = 0;
  if (!fromNow) {
    from = Number(w.resourceVersion);
    if (!Number.isInteger(from) || from < 0) throw new StatusError(400, 'BadRequest', `invalid resource version: ${w.resourceVersion}`);
  }
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  // Served by the resource's watch cache, as v1.13 serves every watch; while it is not current,
  // by an etcd watch of this request's own.
  let cached: ReturnType<WatchCache['watch']>;
  try {
    cached = registry.watchCache(w.def)?.watch(prefix, fromNow ? undefined : from, (changes) => deliver(changes), (err) => finish(err));
  } catch (err) {
    if (!(err instanceof WatchGone)) throw err;
    // As v1.13's cacher answers a watch from a version it no longer keeps: 200 and one ERROR event.
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.end(`${JSON.stringify({ type: 'ERROR', object: new StatusError(410, 'Expired', err.message).toStatus() })}\n`);
    return;
  }
  const initial: Obj[] = [];
  if (cached) {
    initial.push(...cached.initial.filter((kv) => owns(kv.key)).map((kv) => registry.decode(w.def, kv)).filter(w.matches));
  } else if (fromNow) {
    const listed = await registry.list(w.def, w.namespace);
    initial.push(...listed.items.filter(w.matches));
    from = Number(listed.resourceVersion);
  }

  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  // Headers go out now, as the apiserver's watch flushes them: a client waits for them before it
  // reads events (client-go's reflector blocks in Watch() until then, even when told to stop).
  res.flushHeaders();
  const emit = (type: EventType, object: Obj) => res.write(`${JSON.stringify({ type, object })}\n`);
  for (const o of initial) emit('ADDED', o);
  function deliver(changes: EtcdChange[]): void {
    if (done) return;
    for (const change of changes) {
      if (!owns(change.kv.key)) continue;
      const event = eventFor(registry, w.def, change, w.matches);
      if (event) emit(event.type, event.object);
    }
  }

  let close: (() => void) | undefined = cached?.close;
  timer = setTimeout(() => finish(), w.timeoutSeconds * 1000);
  function finish(err?: Error): void {
    if (done) return;
    done = true;
    clearTimeout(timer);
    close?.();
    if (err instanceof WatchGone) {
      res.write(`${JSON.stringify({ type: 'ERROR', object: new StatusError(410, 'Expired', err.message).toStatus() })}\n`);
    } else if (err) {
      ctx.log.warning(`watch of ${w.def.name} ended: ${messageOf(err)}`);
    }
    res.end();
  }
  req.on('close', () => finish());
  if (cached) {
    deliver(cached.backlog);
    return;
  }
  try {
    close = await watchPrefix(ctx.etcd, prefix, from, deliver, finish);
    if (done) close();
  } catch (err) {
    finish(err instanceof Error ? err : new Error(messageOf(err)));
  }
}
