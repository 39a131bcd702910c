/**
 * `GET /containerLogs/{namespace}/{pod}/{container}` on the kubelet's port, what the API server's
 * `pods/{name}/log` proxies to: the container's CRI log file (containerd writes
 * `<RFC3339Nano> <stdout|stderr> <P|F> <message>` lines) returned as the message text, with
 * v1.13's query parameters: timestamps, tailLines, limitBytes, sinceSeconds, sinceTime, previous
 * and follow (which ends when the container stops, the client leaves, or after 10 minutes).
 */
import { open, readFile, stat } from 'node:fs/promises';
import type http from 'node:http';

export interface CriLogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  message: string;
}

export function parseCriLogLine(line: string): CriLogLine | undefined {
  const m = /^(\S+) (stdout|stderr) (P|F) (.*)$/s.exec(line) ?? /^(\S+) (stdout|stderr) (.*)$/s.exec(line);
  if (!m) return undefined;
  if (m.length === 5) return { time: m[1]!, stream: m[2] as 'stdout' | 'stderr', partial: m[3] === 'P', message: m[4]! };
  return { time: m[1]!, stream: m[2] as 'stdout' | 'stderr', partial: false, message: m[3]! };
}

export interface LogOptions {
  timestamps: boolean;
  tailLines?: number;
  limitBytes?: number;
  /** Entries older than this (ms since the epoch) are left out. */
  sinceMs?: number;
}

/** Formats complete log-file lines as the kubelet returns them. */
export function formatLines(lines: string[], opts: Pick<LogOptions, 'timestamps' | 'sinceMs'>): string {
  let out = '';
  for (const line of lines) {
    const l = parseCriLogLine(line);
    if (!l) continue;
    if (opts.sinceMs !== undefined && Date.parse(l.time) < opts.sinceMs) continue;
    out += `${opts.timestamps ? `${l.time} ` : ''}${l.message}${l.partial ? '' : '\n'}`;
  }
  return out;
}

/** The log text of a file's content: the last `tailLines` lines, then cut at `limitBytes`. */
export function renderLog(content: string, opts: LogOptions): string {
  let lines = content.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (opts.tailLines !== undefined) lines = opts.tailLines <= 0 ? [] : lines.slice(-opts.tailLines);
  const text = formatLines(lines, opts);
  return opts.limitBytes !== undefined ? Buffer.from(text).subarray(0, opts.limitBytes).toString('utf8') : text;
}

export type LogTarget = { logPath: string; running: () => Promise<boolean> } | { status: number; message: string };

export type LogLookup = (namespace: string, pod: string, container: string, previous: boolean) => Promise<LogTarget>;

const FOLLOW_MAX_MS = 10 * 60_000;
const FOLLOW_POLL_MS = 250;

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
}

/** Answers a containerLogs request; false when the path is not one. */
export async function serveContainerLogs(req: http.IncomingMessage, res: http.ServerResponse, lookup: LogLookup): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
  if (!m) return false;
  if (req.method !== 'GET') {
    res.writeHead(405, { 'Content-Type': 'text/plain' }).end('Method Not Allowed');
    return true;
  }
  const [namespace, pod, container] = [m[1]!, m[2]!, m[3]!].map(decodeURIComponent) as [string, string, string];
  const q = url.searchParams;
  const sinceSeconds = intParam(q, 'sinceSeconds');
  const sinceTime = q.get('sinceTime');
  const opts: LogOptions = {
    timestamps: q.get('timestamps') === 'true',
    ...(intParam(q, 'tailLines') !== undefined ? { tailLines: intParam(q, 'tailLines')! } : {}),
    ...(intParam(q, 'limitBytes') !== undefined ? { limitBytes: intParam(q, 'limitBytes')! } : {}),
    ...(sinceSeconds !== undefined ? { sinceMs: Date.now() - sinceSeconds * 1000 } : sinceTime ? { sinceMs: Date.parse(sinceTime) } : {}),
  };
  const target = await lookup(namespace, pod, container, q.get('previous') === 'true');
  if ('status' in target) {
    res.writeHead(target.status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(target.message);
    return true;
  }
  let content: string;
  try {
    content = await readFile(target.logPath, 'utf8');
  } catch {
    content = '';
  }
  const text = renderLog(content, opts);
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.write(text);
  let sent = Buffer.byteLength(text);
  if (q.get('follow') !== 'true' || (opts.limitBytes !== undefined && sent >= opts.limitBytes)) {
    res.end();
    return true;
  }
  // Follow: read what is appended, complete lines only, until the container stops and its file is drained.
  let offset = Buffer.byteLength(content);
  let rest = '';
  const deadline = Date.now() + FOLLOW_MAX_MS;
  let closed = false;
  res.on('close', () => (closed = true));
  while (!closed && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    const size = (await stat(target.logPath).catch(() => undefined))?.size ?? offset;
    if (size > offset) {
      const fh = await open(target.logPath, 'r');
      const buf = Buffer.alloc(size - offset);
      await fh.read(buf, 0, buf.length, offset).finally(() => fh.close());
      offset = size;
      const lines = (rest + buf.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      let chunk = formatLines(lines, opts);
      if (opts.limitBytes !== undefined) chunk = Buffer.from(chunk).subarray(0, Math.max(0, opts.limitBytes - sent)).toString('utf8');
      if (chunk) res.write(chunk);
      sent += Buffer.byteLength(chunk);
      if (opts.limitBytes !== undefined && sent >= opts.limitBytes) break;
    } else if (!(await target.running())) break;
  }
  res.end();
  return true;
}
