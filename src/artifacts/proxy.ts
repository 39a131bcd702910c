/**
 * Downloads through an HTTP proxy, as Kubespray's `http_proxy`, `https_proxy` and `no_proxy` ask:
 * plain http URLs are requested from the proxy by their absolute URL; https URLs go through a
 * CONNECT tunnel, TLS end to end with the origin. `no_proxy` names hosts reached directly: an
 * exact name or address, a domain suffix (`.example.com` or `example.com`), or `*` for all.
 */
import http from 'node:http';
import { PassThrough, type Duplex } from 'node:stream';
import tls from 'node:tls';

export interface ProxySettings {
  http?: string;
  https?: string;
  noProxy: readonly string[];
}

/** `no_proxy` as Kubespray writes it: one comma-separated string. */
export function parseNoProxy(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
}

function bypassed(host: string, noProxy: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return noProxy.some((entry) => {
    if (entry === '*') return true;
    const bare = entry.replace(/^\*?\./, '');
    return h === bare || h.endsWith(`.${bare}`);
  });
}

/** The proxy URL for `target`, or undefined when it is reached directly. */
export function proxyFor(target: URL, settings: ProxySettings | undefined): URL | undefined {
  if (!settings) return undefined;
  const raw = target.protocol === 'https:' ? settings.https : settings.http;
  if (!raw || bypassed(target.hostname, settings.noProxy)) return undefined;
  return new URL(raw);
}

/** Request options that send a plain-http GET for `target` to `proxy`, with `headers` added. */
export function viaHttpProxy(target: URL, proxy: URL, headers: Record<string, string>): http.RequestOptions {
  return {
    host: proxy.hostname,
    port: proxy.port || 80,
    path: target.href,
    headers: { ...headers, host: target.host, ...authorization(proxy) },
  };
}

/**
 * A createConnection for https.get that opens a CONNECT tunnel through `proxy` and starts TLS to
 * the origin inside it (certificate checked against the origin's name, as without a proxy).
 */
export function tunnelThrough(proxy: URL): (options: { host?: string | null; port?: number | string | null; servername?: string }, done: (err: Error | null, socket: Duplex) => void) => undefined {
  return (options, done) => {
    const host = options.host ?? 'localhost';
    const port = Number(options.port ?? 443);
    const connect = http.request({
      host: proxy.hostname,
      port: proxy.port || 80,
      method: 'CONNECT',
      path: `${host}:${port}`,
      headers: { host: `${host}:${port}`, ...authorization(proxy) },
    });
    connect.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        // With an error the stream is not used; the signature wants one all the same.
        done(new Error(`proxy ${proxy.host} refused the tunnel to ${host}:${port} (HTTP ${res.statusCode})`), new PassThrough());
        return;
      }
      done(null, tls.connect({ socket, servername: options.servername ?? host }));
    });
    connect.once('error', (err) => done(new Error(`proxy ${proxy.host}: ${err.message}`), new PassThrough()));
    connect.end();
    return undefined;
  };
}

function authorization(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** The proxy settings of an inventory's variables (http_proxy, https_proxy, no_proxy), if any. */
export function proxyFromVars(vars: Readonly<Record<string, unknown>>): ProxySettings | undefined {
  const text = (key: string) => (typeof vars[key] === 'string' && vars[key] !== '' ? (vars[key] as string) : undefined);
  const httpProxy = text('http_proxy');
  const httpsProxy = text('https_proxy');
  if (!httpProxy && !httpsProxy) return undefined;
  return {
    ...(httpProxy ? { http: httpProxy } : {}),
    ...(httpsProxy ? { https: httpsProxy } : {}),
    noProxy: parseNoProxy(text('no_proxy')),
  };
}
