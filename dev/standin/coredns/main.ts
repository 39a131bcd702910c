/**
 * A stand-in for CoreDNS 1.2.6 as Kubespray runs it (`/coredns -conf /etc/coredns/Corefile`, the
 * Corefile from a ConfigMap volume): parses the Corefile (corefile.ts; a malformed one or an unknown
 * plugin ends the process with CoreDNS's error and exit 1), reads Services and Endpoints with the
 * in-cluster configuration (KUBERNETES_SERVICE_HOST/PORT and the service-account token and CA under
 * /var/run/secrets/kubernetes.io/serviceaccount) or the kubernetes plugin's `endpoint`, follows
 * them with watches, and answers DNS over UDP and TCP (resolver.ts). `health` serves `OK` on
 * /health (:8080), `prometheus` a few metrics (:9153). Nothing is forwarded: names outside the
 * cluster zones get SERVFAIL (the lab has no way out).
 *
 *   coredns -conf /etc/coredns/Corefile [-dns.port 53] [-version] [-plugins] [-quiet]
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { ApiClient } from '../common/client.js';
import { CorefileError, KNOWN_PLUGINS, parseCorefile, serverConfigs, type ServerConfig } from './corefile.js';
import { decodeMessage, encodeMessage, truncateForUdp, type Message } from './dns.js';
import { reply, type ClusterData, type EndpointData, type ServiceData } from './resolver.js';

export const VERSION = '1.2.6';
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}
const log = (level: string, m: string) => process.stdout.write(`${stamp()} [${level}] ${m}\n`);
function fatal(m: string): never {
  process.stderr.write(`${stamp()} ${m}\n`);
  process.exit(1);
}

/** Go's flag package: -name value, -name=value, --name too. */
export function parseArgs(argv: readonly string[]): { conf: string; port: number; version: boolean; plugins: boolean; quiet: boolean } {
  const out = { conf: 'Corefile', port: 53, version: false, plugins: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([\w.]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) throw new Error(`unexpected argument ${argv[i]!}`);
    const [name, inline] = [m[1]!, m[2]];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new Error(`flag needs an argument: -${name}`);
      return argv[++i]!;
    };
    if (name === 'conf') out.conf = value();
    else if (name === 'dns.port') {
      const v = value();
      if (!/^\d+$/.test(v)) throw new Error(`invalid value "${v}" for flag -dns.port: parse error`);
      out.port = Number(v);
    } else if (['version', 'plugins', 'quiet'].includes(name)) out[name as 'version' | 'plugins' | 'quiet'] = inline === undefined || inline === 'true';
    else if (name === 'pidfile' || name === 'log') value();
    else throw new Error(`flag provided but not defined: -${name}`);
  }
  return out;
}

/** The API client CoreDNS's kubernetes plugin builds: in-cluster, or the `endpoint` without credentials. */
function apiClient(endpoint: string | undefined): ApiClient {
  if (endpoint) return new ApiClient({ origin: `endpoint ${endpoint}`, server: new URL(endpoint), insecureSkipVerify: false });
  const host = process.env['KUBERNETES_SERVICE_HOST'];
  const port = process.env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) fatal('plugin/kubernetes: unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined');
  let token: string;
  let ca: Buffer;
  try {
    token = readFileSync(`${SA_DIR}/token`, 'utf8').trim();
    ca = readFileSync(`${SA_DIR}/ca.crt`);
  } catch (err) {
    fatal(`plugin/kubernetes: ${err instanceof Error ? err.message : String(err)}`);
  }
  const hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new ApiClient({ origin: 'in-cluster', server: new URL(`https://${hostPort}`), ca, token, insecureSkipVerify: false });
}

interface Raw {
  metadata?: { name?: string; namespace?: string };
  spec?: { clusterIP?: string; type?: string; ports?: Array<{ name?: string; port?: number; protocol?: string }> };
  subsets?: Array<{ addresses?: Array<{ ip?: string; hostname?: string }>; ports?: Array<{ name?: string; port?: number; protocol?: string }> }>;
}

function toService(o: Raw): ServiceData | undefined {
  if (!o.metadata?.name) return undefined;
  return {
    namespace: o.metadata.namespace ?? 'default',
    name: o.metadata.name,
    clusterIP: o.spec?.clusterIP ?? '',
    type: o.spec?.type ?? 'ClusterIP',
    ports: (o.spec?.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port ?? 0, protocol: p.protocol ?? 'TCP' })),
  };
}

function toEndpoints(o: Raw): EndpointData | undefined {
  if (!o.metadata?.name) return undefined;
  const subsets = o.subsets ?? [];
  return {
    namespace: o.metadata.namespace ?? 'default',
    name: o.metadata.name,
    addresses: subsets.flatMap((s) => (s.addresses ?? []).filter((a) => a.ip).map((a) => ({ ip: a.ip!, ...(a.hostname ? { hostname: a.hostname } : {}) }))),
    ports: subsets.flatMap((s) => (s.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port ?? 0, protocol: p.protocol ?? 'TCP' }))),
  };
}

/** Services and Endpoints kept current: a list, then a watch; a watch that ends is renewed with a new list. */
class ClusterCache implements ClusterData {
  services = new Map<string, ServiceData>();
  endpoints = new Map<string, EndpointData>();
  synced = false;
  private stopped = false;
  private readonly watches: Array<{ stop(): void }> = [];

  constructor(private readonly client: ApiClient) {}

  start(): void {
    void this.follow('services', (o) => toService(o), this.services);
    void this.follow('endpoints', (o) => toEndpoints(o), this.endpoints);
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watches) w.stop();
  }

  private async follow<T>(what: string, conv: (o: Raw) => T | undefined, into: Map<string, T>): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const list = (await this.client.call('GET', `/api/v1/${what}`)) as { items?: Raw[] };
        into.clear();
        for (const o of list.items ?? []) {
          const v = conv(o);
          if (v) into.set(`${o.metadata!.namespace ?? 'default'}/${o.metadata!.name!}`, v);
        }
        if (this.services.size + this.endpoints.size > 0 || what === 'endpoints') this.synced = true;
        const w = this.client.watch(`/api/v1/${what}?watch=1&timeoutSeconds=300`, (ev) => {
          const e = ev as { type?: string; object?: Raw };
          if (!e.object?.metadata?.name) return;
          const key = `${e.object.metadata.namespace ?? 'default'}/${e.object.metadata.name}`;
          if (e.type === 'DELETED') into.delete(key);
          else if (e.type === 'ADDED' || e.type === 'MODIFIED') {
            const v = conv(e.object);
            if (v) into.set(key, v);
          }
        });
        this.watches.push(w);
        await w.done;
        attempt = -1;
      } catch (err) {
        log('ERROR', `plugin/kubernetes: Failed to list/watch *v1.${what === 'services' ? 'Service' : 'Endpoints'}: ${err instanceof Error ? err.message : String(err)}`);
        await new Promise((r) => setTimeout(r, Math.min(10_000, 1000 * 2 ** Math.min(attempt, 3))));
      }
    }
  }
}

function hostPortOf(addr: string, defaultHost: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  return { host: host === '' ? defaultHost : host === 'localhost' ? '127.0.0.1' : host, port: Number(addr.slice(i + 1)) };
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  if (args.version) {
    process.stdout.write(`CoreDNS-${VERSION}\nlinux/amd64, go1.11.2, kprov-standin\n`);
    return;
  }
  if (args.plugins) {
    process.stdout.write(`Server types:\n  dns\n\nCaddyfile loaders:\n  flag\n  default\n\nOther plugins:\n${KNOWN_PLUGINS.map((p) => `  dns.${p}`).sort().join('\n')}\n`);
    return;
  }
  let text: string;
  try {
    text = readFileSync(args.conf, 'utf8');
  } catch (err) {
    fatal(`open ${args.conf}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : String(err)}`);
  }
  let servers: ServerConfig[];
  try {
    servers = serverConfigs(parseCorefile(text, args.conf), args.port, args.conf);
  } catch (err) {
    fatal(err instanceof CorefileError ? err.message : String(err));
  }
  const kube = servers.find((s) => s.kubernetes)?.kubernetes;
  const client = kube ? apiClient(kube.endpoint) : undefined;
  const cache = client ? new ClusterCache(client) : undefined;
  cache?.start();
  const empty: ClusterData = { services: new Map(), endpoints: new Map() };
  let queries = 0;

  const answer = (bytes: Buffer, udp: boolean, blocks: ServerConfig[]): Buffer | undefined => {
    let q: Message;
    try {
      q = decodeMessage(bytes);
    } catch {
      return undefined;
    }
    if (q.qr) return undefined;
    queries++;
    const r = reply(blocks, cache ?? empty, q);
    if (blocks.some((b) => b.log)) log('INFO', `${q.questions[0]?.name ?? '?'} ${q.questions[0]?.type ?? 0} rcode=${r.rcode}`);
    if (r.rcode === 2 && blocks.some((b) => b.errors)) log('ERROR', `plugin/errors: 2 ${q.questions[0]?.name ?? ''} ${q.questions[0]?.type ?? 0}: no upstream reachable (the lab stand-in forwards nothing)`);
    return udp ? truncateForUdp(r) : encodeMessage(r);
  };

  const closers: Array<() => void> = [];
  const byPort = new Map<number, ServerConfig[]>();
  for (const s of servers) byPort.set(s.port, [...(byPort.get(s.port) ?? []), s]);
  for (const [port, blocks] of byPort) {
    const binds = blocks[0]!.bind.length > 0 ? blocks[0]!.bind : ['0.0.0.0'];
    for (const host of binds) {
      const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      udp.on('message', (msg, rinfo) => {
        const out = answer(msg, true, blocks);
        if (out) udp.send(out, rinfo.port, rinfo.address);
      });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, host, () => resolve());
      }).catch((err: unknown) => fatal(`listen udp ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`));
      const tcp = net.createServer((sock) => {
        let buf = Buffer.alloc(0);
        sock.setTimeout(10_000, () => sock.destroy());
        sock.on('error', () => undefined);
        sock.on('data', (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            const len = buf.readUInt16BE(0);
            const out = answer(buf.subarray(2, 2 + len), false, blocks);
            buf = buf.subarray(2 + len);
            if (out) {
              const head = Buffer.alloc(2);
              head.writeUInt16BE(out.length);
              sock.write(Buffer.concat([head, out]));
            }
          }
        });
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, host, () => resolve());
      }).catch((err: unknown) => fatal(`listen tcp ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`));
      closers.push(() => udp.close(), () => tcp.close());
    }
    process.stdout.write(`${blocks.flatMap((b) => b.zones).join(' ')}:${port}\n`);
  }

  const health = servers.find((s) => s.health)?.health;
  if (health) {
    const { host, port } = hostPortOf(health, '0.0.0.0');
    const srv = http.createServer((req, res) => {
      if (req.url === '/health') res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
      else res.writeHead(404).end('404 page not found\n');
    });
    await new Promise<void>((resolve) => srv.listen(port, host, resolve));
    closers.push(() => srv.close());
  }
  const prom = servers.find((s) => s.prometheus)?.prometheus;
  if (prom) {
    const { host, port } = hostPortOf(prom, '0.0.0.0');
    const srv = http.createServer((req, res) => {
      if (req.url === '/metrics') res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(`# TYPE coredns_dns_request_count_total counter\ncoredns_dns_request_count_total ${queries}\n# TYPE coredns_build_info gauge\ncoredns_build_info{version="${VERSION}"} 1\n`);
      else res.writeHead(404).end('404 page not found\n');
    });
    await new Promise<void>((resolve) => srv.listen(port, host, resolve));
    closers.push(() => srv.close());
  }
  log('INFO', `CoreDNS-${VERSION}`);
  log('INFO', 'linux/amd64, go1.11.2, kprov-standin');
  if (!args.quiet) process.stdout.write(`CoreDNS-${VERSION}\nlinux/amd64, go1.11.2, kprov-standin\n`);

  const stop = () => {
    log('INFO', 'SIGTERM: Shutting down servers then terminating');
    cache?.stop();
    for (const c of closers) c();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
