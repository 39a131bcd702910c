/**
 * etcd v3 over gRPC, as a v1.13 apiserver's clientv3 talks to it: KV Range/Txn/Put, Lease Grant and
 * Watch on one HTTP/2 connection per endpoint (@grpc/grpc-js, messages from etcd-api.ts), with the
 * apiserver's etcd client TLS (--etcd-cafile/certfile/keyfile). Endpoints are tried in order; one
 * that fails is skipped until the others fail too. Only componentstatuses' probe of each member's
 * `/health` is plain HTTPS, as v1.13's is.
 */
import http from 'node:http';
import https from 'node:https';
import { Client, credentials, Metadata, status as grpcStatus, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { z } from 'zod';
import { messageOf } from '../common/errors.js';
import { ETCD_PROTO } from './etcd-api.js';

export interface EtcdTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
}

/** An int64 as protobufjs decodes it: a Long (long.js, bundled with it), or a number. */
export type Int64 = number | { toNumber(): number; toString(): string };
export const int64 = (v: Int64 | null | undefined): number => (v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber());

/** mvccpb.KeyValue as protobufjs decodes it (bytes as Buffers; a field left out on the wire is undefined). */
export interface WireKeyValue {
  key?: Uint8Array;
  value?: Uint8Array;
  createRevision?: Int64;
  modRevision?: Int64;
}

interface WireHeader {
  revision: Int64;
}

/** Compare.CompareResult.EQUAL and Compare.CompareTarget.MOD (rpc.proto's numbers). */
const EQUAL = 0;
const MOD = 2;

const healthSchema = z.looseObject({ health: z.union([z.string(), z.boolean()]) });

/** The key just past every key with this prefix (etcd's range_end for a prefix scan). */
export function prefixEnd(prefix: string): Buffer {
  const buf = Buffer.from(prefix, 'utf8');
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i]! < 0xff) {
      buf[i] = buf[i]! + 1;
      return buf.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}


const codeNames = new Map<number, string>(
  Object.entries(grpcStatus)
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .map(([k, v]) => [v, k.split('_').map((w) => w[0]! + w.slice(1).toLowerCase()).join('')]),
);

/** A gRPC failure worded like the Go client's: `rpc error: code = Unavailable desc = …`. */
export function rpcErrorMessage(err: unknown): string {
  const e = err as Partial<ServiceError>;
  if (typeof e.code === 'number') return `rpc error: code = ${codeNames.get(e.code) ?? e.code} desc = ${e.details ?? e.message ?? ''}`;
  return messageOf(err);
}

type Codec = { serialize: (value: object) => Buffer; deserialize: (bytes: Buffer) => unknown };

export class EtcdClient {
  private readonly root = protobuf.parse(ETCD_PROTO, { keepCase: false }).root;
  private readonly codecs = new Map<string, Codec>();
  /** One gRPC channel (one HTTP/2 connection) per endpoint, made on first use. */
  private readonly clients = new Map<string, Client>();
  /** For componentstatuses' `/health` probes only. */
  private readonly httpsAgents = new Map<string, http.Agent>();
  private preferred = 0;

  constructor(
    readonly endpoints: readonly URL[],
    private readonly tls: EtcdTls,
    private readonly timeoutMs = 5000,
  ) {
    for (const ep of endpoints) {
      this.httpsAgents.set(
        ep.href,
        ep.protocol === 'https:'
          ? new https.Agent({ ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) })
          : new http.Agent(),
      );
    }
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    for (const agent of this.httpsAgents.values()) agent.destroy();
  }

  private client(ep: URL): Client {
    let client = this.clients.get(ep.href);
    if (!client) {
      const creds =
        ep.protocol === 'https:' ? credentials.createSsl(this.tls.ca ?? null, this.tls.key ?? null, this.tls.cert ?? null) : credentials.createInsecure();
      // clientv3 as v1.13's apiserver dials it: keepalive pings every 30 s, 10 s to answer.
      client = new Client(ep.host, creds, {
        'grpc.keepalive_time_ms': 30_000,
        'grpc.keepalive_timeout_ms': 10_000,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        // No channelz bookkeeping on every call (grpc-go has none unless asked for).
        'grpc.enable_channelz': 0,
      });
      this.clients.set(ep.href, client);
    }
    return client;
  }

  /**
   * protobufjs codec of `etcdserverpb.<type>`: requests are plain objects in the message's shape
   * (enums as numbers, int64 as numbers or decimal strings), responses the decoded messages.
   */
  private codec(type: string): Codec {
    let codec = this.codecs.get(type);
    if (!codec) {
      const t = this.root.lookupType(`etcdserverpb.${type}`);
      codec = {
        serialize: (value) => Buffer.from(t.encode(value).finish()),
        deserialize: (bytes) => t.decode(bytes),
      };
      this.codecs.set(type, codec);
    }
    return codec;
  }

  private unary<T>(ep: URL, service: string, method: string, reqType: string, resType: string, request: object, timeoutMs = this.timeoutMs): Promise<T> {
    const req = this.codec(reqType);
    const res = this.codec(resType);
    return new Promise((resolve, reject) => {
      this.client(ep).makeUnaryRequest(
        `/etcdserverpb.${service}/${method}`,
        req.serialize,
        res.deserialize,
        request,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, value?: unknown) => {
          if (err) reject(new Error(rpcErrorMessage(err)));
          else resolve(value as T);
        },
      );
    });
  }

  /** Calls the first endpoint that answers, starting with the one that answered last. */
  private async call<T>(service: string, method: string, reqType: string, resType: string, request: object): Promise<T> {
    let lastErr: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.preferred + i) % this.endpoints.length;
      const ep = this.endpoints[index]!;
      try {
        const res = await this.unary<T>(ep, service, method, reqType, resType, request);
        this.preferred = index;
        return res;
      } catch (err) {
        lastErr = new Error(`${ep.origin}: ${messageOf(err)}`);
      }
    }
    throw lastErr ?? new Error('no etcd endpoints');
  }

  /**
   * A bidirectional Watch stream on the endpoint that answered last (clientv3 keeps its watches on
   * the connection it has); the caller writes its WatchRequests and reads the responses.
   */
  openWatchStream(): { stream: ClientDuplexStream<object, WatchResponse>; endpoint: URL } {
    const ep = this.endpoints[this.preferred]!;
    const req = this.codec('WatchRequest');
    const res = this.codec('WatchResponse');
    const stream = this.client(ep).makeBidiStreamRequest('/etcdserverpb.Watch/Watch', req.serialize, res.deserialize as (b: Buffer) => WatchResponse, new Metadata(), {});
    return { stream, endpoint: ep };
  }

  async get(key: string): Promise<{ kv: KeyValue | undefined; revision: number }> {
    const res = await this.call<{ header?: WireHeader; kvs?: WireKeyValue[] }>('KV', 'Range', 'RangeRequest', 'RangeResponse', { key: Buffer.from(key, 'utf8') });
    const kv = res.kvs?.[0];
    return { kv: kv ? toKv(kv) : undefined, revision: revisionOf(res.header) };
  }

  async list(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }> {
    const res = await this.call<{ header?: WireHeader; kvs?: WireKeyValue[] }>('KV', 'Range', 'RangeRequest', 'RangeResponse', {
      key: Buffer.from(prefix, 'utf8'),
      rangeEnd: prefixEnd(prefix),
    });
    return { kvs: (res.kvs ?? []).map(toKv), revision: revisionOf(res.header) };
  }

  /**
   * Writes `value` if the key's mod revision is still `expectedModRevision` (0: the key must not
   * exist). Returns the new revision, or undefined when the comparison failed.
   */
  async putIf(key: string, value: string, expectedModRevision: number): Promise<number | undefined> {
    const k = Buffer.from(key, 'utf8');
    const res = await this.call<{ header?: WireHeader; succeeded?: boolean }>('KV', 'Txn', 'TxnRequest', 'TxnResponse', {
      compare: [{ key: k, result: EQUAL, target: MOD, modRevision: expectedModRevision }],
      success: [{ requestPut: { key: k, value: Buffer.from(value, 'utf8') } }],
      failure: [],
    });
    return res.succeeded ? revisionOf(res.header) : undefined;
  }

  /**
   * Writes `value` if the key's mod revision is still `expectedModRevision`, else reads the key in
   * the same transaction (GuaranteedUpdate's Txn: If(mod = rev).Then(Put).Else(Get)).
   */
  async putIfElseGet(key: string, value: string, expectedModRevision: number): Promise<{ revision: number } | { current: KeyValue | undefined }> {
    const k = Buffer.from(key, 'utf8');
    const res = await this.call<{ header?: WireHeader; succeeded?: boolean; responses?: Array<{ responseRange?: { kvs?: WireKeyValue[] } | null }> }>('KV', 'Txn', 'TxnRequest', 'TxnResponse', {
      compare: [{ key: k, result: EQUAL, target: MOD, modRevision: expectedModRevision }],
      success: [{ requestPut: { key: k, value: Buffer.from(value, 'utf8') } }],
      failure: [{ requestRange: { key: k } }],
    });
    if (res.succeeded) return { revision: revisionOf(res.header) };
    const kv = res.responses?.[0]?.responseRange?.kvs?.[0];
    return { current: kv ? toKv(kv) : undefined };
  }

  /** A lease that expires after `ttlSeconds` unless refreshed; its ID as a decimal string. */
  async grantLease(ttlSeconds: number): Promise<string> {
    const res = await this.call<{ ID?: Int64; error?: string }>('Lease', 'LeaseGrant', 'LeaseGrantRequest', 'LeaseGrantResponse', { TTL: ttlSeconds });
    if (res.error) throw new Error(`etcd lease grant: ${res.error}`);
    return String(res.ID ?? 0);
  }

  /** Writes `value` bound to `lease`: the key disappears when the lease expires. */
  async putWithLease(key: string, value: string, lease: string): Promise<void> {
    await this.call('KV', 'Put', 'PutRequest', 'PutResponse', { key: Buffer.from(key, 'utf8'), value: Buffer.from(value, 'utf8'), lease });
  }

  /** Deletes the key if its mod revision is still `expectedModRevision`. */
  async deleteIf(key: string, expectedModRevision: number): Promise<boolean> {
    const k = Buffer.from(key, 'utf8');
    const res = await this.call<{ succeeded?: boolean }>('KV', 'Txn', 'TxnRequest', 'TxnResponse', {
      compare: [{ key: k, result: EQUAL, target: MOD, modRevision: expectedModRevision }],
      success: [{ requestDeleteRange: { key: k } }],
      failure: [],
    });
    return res.succeeded === true;
  }

  /** Whether any endpoint serves a read right now (what /healthz/etcd asks: clientv3 Get "health"). */
  async ping(timeoutMs = 2000): Promise<string | undefined> {
    const errors: string[] = [];
    for (const ep of this.endpoints) {
      try {
        await this.unary(ep, 'KV', 'Range', 'RangeRequest', 'RangeResponse', { key: Buffer.from('health', 'utf8') }, timeoutMs);
        return undefined;
      } catch (err) {
        errors.push(`${ep.origin}: ${messageOf(err)}`);
      }
    }
    return errors.join('; ');
  }

  /** GET <endpoint>/health with the etcd client TLS, as componentstatuses probes each server. */
  async health(ep: URL, timeoutMs: number): Promise<{ healthy: boolean; message: string; error: string }> {
    try {
      const res = await this.httpGet(ep, '/health', timeoutMs);
      if (res.status !== 200) return { healthy: false, message: '', error: `Get ${ep.origin}/health: HTTP ${res.status}` };
      const parsed = healthSchema.safeParse(JSON.parse(res.text));
      const ok = parsed.success && String(parsed.data.health) === 'true';
      return ok
        ? { healthy: true, message: res.text.trim(), error: '' }
        : { healthy: false, message: '', error: `unhealthy: ${res.text.trim()}` };
    } catch (err) {
      return { healthy: false, message: '', error: `Get ${ep.origin}/health: ${messageOf(err)}` };
    }
  }

  private httpGet(ep: URL, path: string, timeoutMs: number): Promise<{ status: number; text: string }> {
    const url = new URL(path, ep);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method: 'GET', agent: this.httpsAgents.get(ep.href), timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('context deadline exceeded')));
      req.on('error', reject);
      req.end();
    });
  }
}

/** etcdserverpb.WatchResponse as the codec gives it. */
export interface WatchResponse {
  header?: WireHeader | null;
  watchId?: Int64;
  created?: boolean;
  canceled?: boolean;
  compactRevision?: Int64;
  cancelReason?: string;
  /** type: mvccpb.Event.EventType, PUT 0, DELETE 1. */
  events?: Array<{ type?: number; kv?: WireKeyValue | null; prevKv?: WireKeyValue | null }>;
}

function revisionOf(header: WireHeader | null | undefined): number {
  return int64(header?.revision);
}

export function toKv(kv: WireKeyValue): KeyValue {
  // An unset bytes field decodes to the prototype's default, an empty array.
  const text = (b: Uint8Array | undefined) => (b === undefined ? '' : Buffer.isBuffer(b) ? b.toString('utf8') : Buffer.from(b).toString('utf8'));
  return {
    key: text(kv.key),
    value: text(kv.value),
    createRevision: int64(kv.createRevision),
    modRevision: int64(kv.modRevision),
  };
}
