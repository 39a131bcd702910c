/**
 * A small client for the Kubernetes API over HTTPS with a kubeconfig's credentials (node:https,
 * JSON only). Responses are returned raw; callers parse what they read with their zod schemas.
 */
import http from 'node:http';
import https from 'node:https';
import { configError, messageOf } from './errors.js';
import { lineSplitter } from './lines.js';
import type { ClientConfig } from './kubeconfig.js';

export interface ApiResponse {
  status: number;
  body: unknown;
  text: string;
}

/** A non-2xx answer from the apiserver, with the Status object's reason when it sent one. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const transientCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOENT', 'EAI_AGAIN']);

/** Worth retrying: the server is not there (yet), as opposed to refusing us. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429;
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined && transientCodes.has(code)) || /socket hang up|timed out/.test(messageOf(err));
}

export class ApiClient {
  private readonly agent: http.Agent;
  /** Watches hold their connection for minutes: they get their own, so requests never queue behind them. */
  private readonly watchAgent: http.Agent;

  constructor(
    readonly config: ClientConfig,
    private readonly timeoutMs = 10_000,
  ) {
    this.agent =
      config.server.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            maxSockets: 4,
            ...(config.ca ? { ca: config.ca } : {}),
            ...(config.cert ? { cert: config.cert } : {}),
            ...(config.key ? { key: config.key } : {}),
            rejectUnauthorized: !config.insecureSkipVerify,
          })
        : new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.watchAgent =
      config.server.protocol === 'https:'
        ? new https.Agent({
            ...(config.ca ? { ca: config.ca } : {}),
            ...(config.cert ? { cert: config.cert } : {}),
            ...(config.key ? { key: config.key } : {}),
            rejectUnauthorized: !config.insecureSkipVerify,
          })
        : new http.Agent();
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }

  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiResponse> {
    const url = new URL(path, this.config.server);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'kube-standin/v1.13' };
    if (payload) {
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = String(payload.length);
    }
    if (this.config.token) headers.Authorization = `Bearer ${this.config.token}`;
    else if (this.config.basicAuth) {
      headers.Authorization = `Basic ${Buffer.from(`${this.config.basicAuth.username}:${this.config.basicAuth.password}`).toString('base64')}`;
    }
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method, headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = undefined;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`request to ${url.origin} timed out after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * A watch (`path` carries watch=1): the answer stays open and each line is one event, given to
   * `onEvent`. `done` settles when the server ends it (its timeoutSeconds) or it fails; `stop`
   * ends it early.
   */
  watch(path: string, onEvent: (event: unknown) => void): { done: Promise<void>; stop(): void } {
    const url = new URL(path, this.config.server);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'kube-standin/v1.13' };
    if (this.config.token) headers.Authorization = `Bearer ${this.config.token}`;
    const lib = url.protocol === 'https:' ? https : http;
    let req: http.ClientRequest | undefined;
    const done = new Promise<void>((resolve, reject) => {
      req = lib.request(url, { method: 'GET', headers, agent: this.watchAgent }, (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          res.resume();
          reject(new ApiError(res.statusCode ?? 0, '', `watch ${url.pathname}: HTTP ${res.statusCode ?? 0}`));
          return;
        }
        res.setEncoding('utf8');
        res.on(
          'data',
          lineSplitter((line) => {
            try {
              onEvent(JSON.parse(line));
            } catch {
              // A line that is not JSON is not an event.
            }
          }),
        );
        res.on('end', () => resolve());
        res.on('error', reject);
        res.on('aborted', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    return { done, stop: () => req?.destroy() };
  }

  /** Like `request`, but any status >= 400 becomes an ApiError carrying the Status message. */
  async call(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    const res = await this.request(method, path, body, contentType);
    if (res.status >= 400) {
      const status = res.body as { message?: unknown; reason?: unknown } | undefined;
      const message = typeof status?.message === 'string' ? status.message : res.text.trim() || `HTTP ${res.status}`;
      const reason = typeof status?.reason === 'string' ? status.reason : '';
      throw new ApiError(res.status, reason, message);
    }
    return res.body;
  }

  /**
   * Proves the kubeconfig works: the server answers over TLS trusted by its CA, and accepts the
   * credentials (401 is a failure; 403 means we are known but not allowed that list, which is fine).
   * Transient errors are retried until `waitMs` has passed.
   */
  async verify(waitMs: number, onRetry: (why: string) => void): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.request('GET', '/api/v1/namespaces/kube-system/endpoints?limit=1');
        if (res.status === 401) throw configError(`${this.config.origin}: the server at ${this.config.server.origin} rejected the credentials: Unauthorized`);
        if (res.status >= 500 || res.status === 0) throw new ApiError(res.status, '', `server error: HTTP ${res.status}`);
        return;
      } catch (err) {
        if (!isTransient(err) || Date.now() >= deadline) {
          if (err instanceof Error && err.name === 'StandinError') throw err;
          throw configError(`${this.config.origin}: cannot reach ${this.config.server.origin}: ${messageOf(err)}`);
        }
        onRetry(`attempt ${attempt}: ${messageOf(err)}`);
        await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, deadline - Date.now()))));
      }
    }
  }
}
