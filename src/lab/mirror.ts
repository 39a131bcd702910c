/**
 * The lab's artifact mirror: serves one directory read-only over HTTP (GET and HEAD), the way a
 * release server does. No listings, nothing outside the directory (not even through symlinks).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

export interface MirrorRequestLog {
  method: string;
  path: string;
  status: number;
  bytes: number;
}

/** The file under `root` a URL path names, or undefined when it is outside or not a file. */
export async function resolveMirrorPath(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const realRoot = await realpath(root);
  const candidate = path.join(realRoot, path.posix.normalize(`/${decoded}`));
  if (candidate !== realRoot && !candidate.startsWith(`${realRoot}${path.sep}`)) return undefined;
  const real = await realpath(candidate).catch(() => undefined);
  if (real === undefined || !real.startsWith(`${realRoot}${path.sep}`)) return undefined;
  const info = await stat(real).catch(() => undefined);
  return info?.isFile() ? real : undefined;
}

export function createMirrorServer(root: string, onRequest?: (log: MirrorRequestLog) => void): http.Server {
  return http.createServer((req, res) => {
    void handle(root, req, res).then(
      (log) => onRequest?.(log),
      () => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      },
    );
  });
}

async function handle(root: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<MirrorRequestLog> {
  const method = req.method ?? 'GET';
  const urlPath = new URL(req.url ?? '/', 'http://mirror').pathname;
  const reply = (status: number, bytes = 0): MirrorRequestLog => ({ method, path: urlPath, status, bytes });
  if (method !== 'GET' && method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': 0 }).end();
    return reply(405);
  }
  const file = await resolveMirrorPath(root, urlPath);
  const info = file === undefined ? undefined : await stat(file).catch(() => undefined);
  if (file === undefined || info === undefined) {
    const body = 'not found\n';
    res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(method === 'HEAD' ? undefined : body);
    return reply(404);
  }
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': info.size,
    'Last-Modified': info.mtime.toUTCString(),
  });
  if (method === 'HEAD') {
    res.end();
    return reply(200);
  }
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(file);
    stream.on('error', reject);
    res.on('close', resolve);
    stream.pipe(res);
  });
  return reply(200, info.size);
}
