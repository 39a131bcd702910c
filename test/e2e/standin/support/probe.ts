/**
 * One HTTP(S) request made from inside a test's network namespace (run as
 * `ip netns exec NS node probe.js '<json>'`); prints {status, body} or {error} as JSON.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

interface ProbeSpec {
  url: string;
  method?: string;
  ca?: string;
  cert?: string;
  key?: string;
  body?: unknown;
  contentType?: string;
  accept?: string;
  bearer?: string;
  impersonate?: string;
  timeoutMs?: number;
}

function main(): void {
  const spec = JSON.parse(process.argv[2] ?? '{}') as ProbeSpec;
  const url = new URL(spec.url);
  const payload = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
  const headers: Record<string, string> = {};
  if (payload) {
    headers['Content-Type'] = spec.contentType ?? 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  if (spec.accept) headers.Accept = spec.accept;
  if (spec.bearer) headers.Authorization = `Bearer ${spec.bearer}`;
  if (spec.impersonate) headers['Impersonate-User'] = spec.impersonate;
  const options: https.RequestOptions = { method: spec.method ?? 'GET', headers, timeout: spec.timeoutMs ?? 5000 };
  if (url.protocol === 'https:') {
    if (spec.ca) options.ca = readFileSync(spec.ca);
    if (spec.cert) options.cert = readFileSync(spec.cert);
    if (spec.key) options.key = readFileSync(spec.key);
  }
  const lib = url.protocol === 'https:' ? https : http;
  const req = lib.request(url, options, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (body += c));
    res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body })));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (err: NodeJS.ErrnoException) => process.stdout.write(JSON.stringify({ error: err.code ?? err.message })));
  req.end(payload);
}

main();
