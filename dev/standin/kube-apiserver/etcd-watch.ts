/**
 * etcd v3 watches over the JSON gateway (POST /v3/watch, one JSON message per line): the changes
 * under a key prefix from a revision on, with each change's previous value so that a watcher can
 * tell what a deleted or modified object was.
 */
import { z } from 'zod';
import { lineSplitter } from '../common/lines.js';
import { b64, kvSchema, prefixEnd, toKv, type EtcdClient, type KeyValue } from './etcd.js';

export interface EtcdChange {
  type: 'put' | 'delete';
  kv: KeyValue;
  prev?: KeyValue;
}

const int64 = z.union([z.string(), z.number()]).transform((v) => Number(v));
const messageSchema = z.looseObject({
  result: z
    .looseObject({
      canceled: z.boolean().optional(),
      compact_revision: int64.optional(),
      cancel_reason: z.string().optional(),
      events: z.array(z.looseObject({ type: z.string().optional(), kv: kvSchema, prev_kv: kvSchema.optional() })).optional(),
    })
    .optional(),
  error: z.looseObject({ message: z.string().optional() }).optional(),
});

export class WatchGone extends Error {
  override readonly name = 'WatchGone';
}

/**
 * Calls `onChanges` for every batch of changes under `prefix` after `afterRevision`, until the
 * returned `close` is called or the stream ends (`onEnd`, with the reason when it failed).
 */
export async function watchPrefix(
  etcd: EtcdClient,
  prefix: string,
  afterRevision: number,
  onChanges: (changes: EtcdChange[]) => void,
  onEnd: (err?: Error) => void,
): Promise<() => void> {
  const { response, close } = await etcd.openStream('/v3/watch', {
    create_request: { key: b64(prefix), range_end: prefixEnd(prefix), start_revision: String(afterRevision + 1), prev_kv: true },
  });
  let ended = false;
  const end = (err?: Error) => {
    if (ended) return;
    ended = true;
    close();
    onEnd(err);
  };
  response.setEncoding('utf8');
  response.on(
    'data',
    lineSplitter((line) => {
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        return end(new Error('etcd watch: an answer that is not JSON'));
      }
      const parsed = messageSchema.safeParse(json);
      if (!parsed.success) return;
      const { result, error } = parsed.data;
      if (error) return end(new Error(`etcd watch: ${error.message ?? 'failed'}`));
      if (result?.compact_revision) return end(new WatchGone(`too old resource version: ${afterRevision} (${result.compact_revision})`));
      if (result?.canceled) return end(new Error(`etcd watch canceled: ${result.cancel_reason ?? ''}`));
      const events = result?.events ?? [];
      if (events.length > 0) {
        onChanges(events.map((e) => ({ type: e.type === 'DELETE' ? 'delete' : 'put', kv: toKv(e.kv), ...(e.prev_kv ? { prev: toKv(e.prev_kv) } : {}) })));
      }
    }),
  );
  response.on('end', () => end());
  response.on('error', (err) => end(err));
  return () => end();
}
