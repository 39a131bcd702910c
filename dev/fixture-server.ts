/**
 * A small HTTP file server for artifact tests and the download benchmark, on 127.0.0.1 (random port): serves a map of paths to
 * contents, counts requests, and misbehaves on demand (status codes, truncated bodies, redirects,
 * delays) for the next N requests of a path.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Misbehaviour =
  | { status: number; retryAfter?: number }
  /** Sends the full Content-Length but only this many bytes, then drops the connection. */
  | { truncateAt: number }
  /** Sends the full Content-Length but only this many bytes, then goes silent (connection open). */
  | { stallAt: number }
  | { redirect: string }
  /** Waits before answering (to observe concurrency). */
  | { delayMs: number }
  /** Sends these bytes instead of the file. */
  | { body: Buffer };

export interface FixtureServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly files: Map<string, Buffer>;
  /** Paths (with query) of every request received, in order. */
  readonly requests: string[];
  /** Highest number of requests being answered at once. */
  readonly maxInFlight: number;
  /** Queues misbehaviours for the next requests of `path` (one per request). */
  misbehave(path: string, ...steps: Misbehaviour[]): void;
  /** Every request to `path`, forever. */
  always(path: string, step: Misbehaviour): void;
  countFor(path: string): number;
  resetCounts(): void;
  close(): Promise<void>;
}

export async function startFixtureServer(files: Map<string, Buffer> = new Map()): Promise<FixtureServer> {
  const queued = new Map<string, Misbehaviour[]>();
  const permanent = new Map<string, Misbehaviour>();
  const requests: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  const send = (res: ServerResponse, body: Buffer) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const step = queued.get(path)?.shift() ?? permanent.get(path);
    if (step && 'delayMs' in step) await new Promise((r) => setTimeout(r, step.delayMs));
    if (step && 'status' in step) {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
      res.writeHead(step.status, headers);
      res.end(`status ${step.status}\n`);
      return;
    }
    if (step && 'redirect' in step) {
      res.writeHead(302, { location: step.redirect });
      res.end();
      return;
    }
    if (step && 'body' in step) return send(res, step.body);
    const body = files.get(path);
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    if (step && 'stallAt' in step) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
      res.write(body.subarray(0, step.stallAt));
      return;
    }
    if (step && 'truncateAt' in step) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
      res.write(body.subarray(0, step.truncateAt), () => res.socket?.destroy());
      return;
    }
    send(res, body);
  };

  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    files,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    misbehave(path, ...steps) {
      queued.set(path, [...(queued.get(path) ?? []), ...steps]);
    },
    always(path, step) {
      permanent.set(path, step);
    },
    countFor(path) {
      return requests.filter((r) => r === path).length;
    },
    resetCounts() {
      requests.length = 0;
      maxInFlight = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
