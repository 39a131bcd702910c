/**
 * HTTP for downloads: node's http/https (a third of fetch's CPU cost per byte here), redirects
 * followed by hand (bounded, so the final URL is known), bounded retries with backoff on network
 * errors, timeouts and 5xx (never on 404), and bodies streamed to disk while hashed. Errors are
 * DownloadError values; callers add which artifact was being fetched.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { proxyFor, tunnelThrough, viaHttpProxy, type ProxySettings } from './proxy.js';

export interface HttpOptions {
  /** Total tries per request (first try included). */
  attempts: number;
  /** Delay before the first retry; doubled each time, capped at maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Until response headers arrive. */
  headersTimeoutMs: number;
  /** Longest pause between two chunks of a body. */
  idleTimeoutMs: number;
  maxRedirects: number;
  onRetry?: (info: RetryInfo) => void;
  /** http_proxy / https_proxy / no_proxy from the inventory. */
  proxy?: ProxySettings;
}

export const DEFAULT_HTTP_OPTIONS: HttpOptions = {
  attempts: 4,
  backoffMs: 500,
  maxBackoffMs: 8000,
  headersTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  maxRedirects: 10,
};

export interface RetryInfo {
  url: string;
  /** The try that failed (1-based). */
  attempt: number;
  delayMs: number;
  reason: string;
}

export type DownloadErrorKind = 'not-found' | 'http' | 'network' | 'truncated' | 'too-large' | 'redirects' | 'io';

export class DownloadError extends Error {
  constructor(
    readonly kind: DownloadErrorKind,
    readonly url: string,
    message: string,
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** A failure of one try; `retry` says whether another try may help. */
class AttemptError extends Error {
  constructor(
    readonly kind: DownloadErrorKind,
    message: string,
    readonly retry: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function retryAfterMs(res: IncomingMessage): number | undefined {
  const value = res.headers['retry-after'];
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value) * 1000;
}

/** Turns a non-2xx status into the right AttemptError. */
function statusError(res: IncomingMessage): AttemptError {
  const status = res.statusCode ?? 0;
  if (status === 404 || status === 410) return new AttemptError('not-found', `not found (HTTP ${status})`, false, status);
  const retry = status >= 500 || status === 429 || status === 408;
  return new AttemptError('http', `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, retry, status, retryAfterMs(res));
}

/** One GET (no redirect handling); resolves at the response headers. */
function request(url: string, options: HttpOptions): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new AttemptError('http', 'not a valid URL', false));
      return;
    }
    const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
    if (!client) {
      reject(new AttemptError('http', `unsupported protocol ${target.protocol}`, false));
      return;
    }
    // identity: a mirror that gzips .tar.gz on the fly would otherwise hand us other bytes.
    const headers = { 'accept-encoding': 'identity', 'user-agent': 'kprov' };
    const proxy = proxyFor(target, options.proxy);
    const req = !proxy
      ? client.get(target, { headers })
      : target.protocol === 'http:'
        ? http.get(viaHttpProxy(target, proxy, headers))
        : // No agent: Node then opens the socket with createConnection, our tunnel.
          https.get(target, { headers, createConnection: tunnelThrough(proxy) });
    const timer = setTimeout(
      () => req.destroy(new AttemptError('network', `no response within ${options.headersTimeoutMs} ms`, true)),
      options.headersTimeoutMs,
    );
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve({ req, res });
    });
    // `on`, not `once`: a socket error after the response must not become an uncaught 'error'.
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof AttemptError ? err : new AttemptError('network', describeNetworkError(err), true));
    });
  });
}

/**
 * GET with redirects followed (bounded). Resolves with a 2xx response whose body has not been
 * read; other responses are drained and turned into AttemptErrors.
 */
async function get(url: string, options: HttpOptions): Promise<{ req: ClientRequest; res: IncomingMessage; finalUrl: string }> {
  let current = url;
  for (let hop = 0; hop <= options.maxRedirects; hop++) {
    const { req, res } = await request(current, options);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      current = new URL(res.headers.location, current).toString();
      continue;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw statusError(res);
    }
    return { req, res, finalUrl: current };
  }
  throw new AttemptError('redirects', `more than ${options.maxRedirects} redirects`, false);
}

/** Runs `attempt` up to options.attempts times with backoff while its failures are retryable. */
async function withRetries<T>(url: string, options: HttpOptions, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof AttemptError)) throw err;
      if (!err.retry || n >= options.attempts) {
        const tries = n > 1 ? ` (after ${n} tries)` : '';
        throw new DownloadError(err.kind, url, `${err.message}${tries}`, n, err.status);
      }
      const backoff = Math.min(options.maxBackoffMs, options.backoffMs * 2 ** (n - 1));
      const delayMs = Math.min(options.maxBackoffMs, Math.max(backoff, err.retryAfterMs ?? 0));
      options.onRetry?.({ url, attempt: n, delayMs, reason: err.message });
      await sleep(delayMs);
    }
  }
}

export type TextResult = { found: true; text: string; finalUrl: string } | { found: false };

/** A small text file (checksum files); `found: false` on 404/410. */
export async function fetchText(url: string, options: HttpOptions, maxBytes = 1 << 20): Promise<TextResult> {
  try {
    return await withRetries(url, options, async () => {
      const { req, res, finalUrl } = await get(url, options);
      const chunks: Buffer[] = [];
      let size = 0;
      let timedOut: AttemptError | undefined;
      const idle = setTimeout(() => {
        timedOut = new AttemptError('network', `not complete within ${options.idleTimeoutMs} ms`, true);
        req.destroy(timedOut);
      }, options.idleTimeoutMs);
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy();
            throw new AttemptError('too-large', `larger than ${maxBytes} bytes: not a checksum file`, false);
          }
          chunks.push(chunk);
        }
      } catch (err) {
        if (err instanceof AttemptError) throw err;
        if (timedOut) throw timedOut;
        throw new AttemptError('network', `connection lost while reading: ${describeNetworkError(err)}`, true);
      } finally {
        clearTimeout(idle);
      }
      return { found: true as const, text: Buffer.concat(chunks).toString('utf8'), finalUrl };
    });
  } catch (err) {
    if (err instanceof DownloadError && err.kind === 'not-found') return { found: false };
    throw err;
  }
}

export interface DownloadResult {
  size: number;
  sha256: string;
  /** Only when asked for (it costs about as much again as sha256). */
  sha512: string | undefined;
  finalUrl: string;
}

/**
 * Streams `url` into `file` (created or truncated), hashing sha256 (and sha512 when asked) on the
 * way. A try whose body is shorter than its Content-Length, stalls, or is cut off is retried from
 * scratch; on failure the file is removed.
 */
export async function downloadToFile(url: string, file: string, options: HttpOptions, withSha512 = false): Promise<DownloadResult> {
  try {
    return await withRetries(url, options, () => downloadOnce(url, file, options, withSha512));
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
}

async function downloadOnce(url: string, file: string, options: HttpOptions, withSha512: boolean): Promise<DownloadResult> {
  const { req, res, finalUrl } = await get(url, options);
  const encoding = res.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    res.resume();
    throw new AttemptError('http', `the server sent it ${encoding}-encoded although identity was asked for`, false);
  }
  const lengthHeader = res.headers['content-length'];
  const expected = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;

  const sha256 = createHash('sha256');
  const sha512 = withSha512 ? createHash('sha512') : undefined;
  let size = 0;
  let idle: NodeJS.Timeout | undefined;
  let stalled: AttemptError | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      stalled = new AttemptError('network', `no data for ${options.idleTimeoutMs} ms after ${size} bytes`, true);
      req.destroy(stalled);
    }, options.idleTimeoutMs);
  };
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      sha256.update(chunk);
      sha512?.update(chunk);
      armIdle();
      done(null, chunk);
    },
  });

  let writeFailed: Error | undefined;
  const out = createWriteStream(file);
  out.on('error', (err) => (writeFailed = err));
  armIdle();
  try {
    await pipeline(res, meter, out);
  } catch (err) {
    if (writeFailed) throw new AttemptError('io', `cannot write ${file}: ${writeFailed.message}`, false);
    if (err instanceof AttemptError) throw err;
    if (stalled) throw stalled;
    if (expected !== undefined && size < expected) {
      throw new AttemptError('truncated', `download cut short: got ${size} of ${expected} bytes`, true);
    }
    throw new AttemptError('network', `connection lost after ${size} bytes: ${describeNetworkError(err)}`, true);
  } finally {
    clearTimeout(idle);
  }
  if (expected !== undefined && size !== expected) {
    throw new AttemptError('truncated', `download cut short: got ${size} of ${expected} bytes`, true);
  }
  return { size, sha256: sha256.digest('hex'), sha512: sha512?.digest('hex'), finalUrl };
}
