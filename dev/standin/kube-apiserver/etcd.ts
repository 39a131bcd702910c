/**
 * etcd v3 over its JSON gateway (etcd 3.4: POST /v3/kv/range, /v3/kv/txn, /v3/kv/deleterange, with
 * base64 keys and values), with the apiserver's etcd client TLS (--etcd-cafile/certfile/keyfile).
 * Endpoints are tried in order; one that fails is skipped until the others fail too.
 */
import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import { messageOf } from '../common/errors.js';

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

const int64 = z.union([z.string(), z.number()]).transform((v) => Number(v));
const headerSchema = z.looseObject({ revision: int64.optional() });
export const kvSchema = z.looseObject({
  key: z.string(),
  value: z.string().optional(),
  create_revision: int64.optional(),
  mod_revision: int64.optional(),
});
const rangeSchema = z.looseObject({ header: headerSchema.optional(), kvs: z.array(kvSchema).optional() });
const txnSchema = z.looseObject({ header: headerSchema.optional(), succeeded: z.boolean().optional() });
const leaseSchema = z.looseObject({ ID: z.union([z.string(), z.number()]) });
const healthSchema = z.looseObject({ health: z.union([z.string(), z.boolean()]) });

export const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
export const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The key just past every key with this prefix (etcd's range_end for a prefix scan). */
export function prefixEnd(prefix: string): string {
  const buf = Buffer.from(prefix, 'utf8');
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i]! < 0xff) {
      buf[i] = buf[i]! + 1;
      return buf.subarray(0, i + 1).toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

export class EtcdClient {
  private readonly agents: Map<string, http.Agent> = new Map();
  /** Watches stay open as long as their API watch: their own agents, so reads and writes never queue behind them. */
  private readonly streamAgents: Map<string, http.Agent> = new Map();
  private preferred = 0;

  constructor(
    readonly endpoints: readonly URL[],
    tls: EtcdTls,
    private readonly timeoutMs = 5000,
  ) {
    for (const ep of endpoints) {
      this.agents.set(
        ep.href,
        ep.protocol === 'https:'
          ? new https.Agent({ keepAlive: true, maxSockets: 8, ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) })
          : new http.Agent({ keepAlive: true, maxSockets: 8 }),
      );
      this.streamAgents.set(
        ep.href,
        ep.protocol === 'https:'
          ? new https.Agent({ ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) })
          : new http.Agent(),
      );
    }
  }

  close(): void {
    for (const agent of [...this.agents.values(), ...this.streamAgents.values()]) agent.destroy();
  }

  /** One HTTP exchange with one endpoint. */
  private exchange(ep: URL, method: string, path: string, body: unknown, timeoutMs = this.timeoutMs): Promise<{ status: number; text: string }> {
    const url = new URL(path, ep);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method,
          agent: this.agents.get(ep.href),
          timeout: timeoutMs,
          headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('context deadline exceeded')));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * Opens a streaming POST (etcd's /v3/watch) on the preferred endpoint; the caller reads and ends
   * the response. No timeout: a watch lives until its owner closes it.
   */
  openStream(path: string, body: unknown): Promise<{ response: http.IncomingMessage; close: () => void }> {
    const ep = this.endpoints[this.preferred]!;
    const url = new URL(path, ep);
    const payload = Buffer.from(JSON.stringify(body));
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method: 'POST', agent: this.streamAgents.get(ep.href), headers: { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          req.destroy();
          reject(new Error(`etcd ${ep.origin}${path}: HTTP ${response.statusCode ?? 0}`));
          return;
        }
        resolve({ response, close: () => req.destroy() });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** POSTs to the first endpoint that answers. */
  private async post(path: string, body: unknown): Promise<unknown> {
    let lastErr: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.preferred + i) % this.endpoints.length;
      const ep = this.endpoints[index]!;
      try {
        const res = await this.exchange(ep, 'POST', path, body);
        if (res.status !== 200) throw new Error(`etcd ${ep.origin}${path}: HTTP ${res.status}: ${res.text.trim()}`);
        this.preferred = index;
        return JSON.parse(res.text) as unknown;
      } catch (err) {
        lastErr = new Error(`${ep.origin}: ${messageOf(err)}`);
      }
    }
    throw lastErr ?? new Error('no etcd endpoints');
  }

  async get(key: string): Promise<{ kv: KeyValue | undefined; revision: number }> {
    const res = rangeSchema.parse(await this.post('/v3/kv/range', { key: b64(key) }));
    const kv = res.kvs?.[0];
    return { kv: kv ? toKv(kv) : undefined, revision: res.header?.revision ?? 0 };
  }

  async list(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }> {
    const res = rangeSchema.parse(await this.post('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix) }));
    return { kvs: (res.kvs ?? []).map(toKv), revision: res.header?.revision ?? 0 };
  }

  /**
   * Writes `value` if the key's mod revision is still `expectedModRevision` (0: the key must not
   * exist). Returns the new revision, or undefined when the comparison failed.
   */
  async putIf(key: string, value: string, expectedModRevision: number): Promise<number | undefined> {
    const res = txnSchema.parse(
      await this.post('/v3/kv/txn', {
        compare: [{ key: b64(key), result: 'EQUAL', target: 'MOD', mod_revision: String(expectedModRevision) }],
        success: [{ request_put: { key: b64(key), value: b64(value) } }],
        failure: [],
      }),
    );
    return res.succeeded ? (res.header?.revision ?? 0) : undefined;
  }

  /** A lease that expires after `ttlSeconds` unless refreshed; its ID as etcd prints it. */
  async grantLease(ttlSeconds: number): Promise<string> {
    const res = leaseSchema.parse(await this.post('/v3/lease/grant', { TTL: String(ttlSeconds) }));
    return String(res.ID);
  }

  /** Writes `value` bound to `lease`: the key disappears when the lease expires. */
  async putWithLease(key: string, value: string, lease: string): Promise<void> {
    await this.post('/v3/kv/put', { key: b64(key), value: b64(value), lease });
  }

  /** Deletes the key if its mod revision is still `expectedModRevision`. */
  async deleteIf(key: string, expectedModRevision: number): Promise<boolean> {
    const res = txnSchema.parse(
      await this.post('/v3/kv/txn', {
        compare: [{ key: b64(key), result: 'EQUAL', target: 'MOD', mod_revision: String(expectedModRevision) }],
        success: [{ request_delete_range: { key: b64(key) } }],
        failure: [],
      }),
    );
    return res.succeeded === true;
  }

  /** Whether any endpoint serves a read right now (what /healthz/etcd asks). */
  async ping(timeoutMs = 2000): Promise<string | undefined> {
    const errors: string[] = [];
    for (const ep of this.endpoints) {
      try {
        const res = await this.exchange(ep, 'POST', '/v3/kv/range', { key: b64('health') }, timeoutMs);
        if (res.status === 200) return undefined;
        errors.push(`${ep.origin}: HTTP ${res.status}`);
      } catch (err) {
        errors.push(`${ep.origin}: ${messageOf(err)}`);
      }
    }
    return errors.join('; ');
  }

  /** GET <endpoint>/health with the etcd client TLS, as componentstatuses probes each server. */
  async health(ep: URL, timeoutMs: number): Promise<{ healthy: boolean; message: string; error: string }> {
    try {
      const res = await this.exchange(ep, 'GET', '/health', undefined, timeoutMs);
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
}

export function toKv(kv: z.infer<typeof kvSchema>): KeyValue {
  return { key: unb64(kv.key), value: unb64(kv.value), createRevision: kv.create_revision ?? 0, modRevision: kv.mod_revision ?? 0 };
}
