/**
 * The Corefile as CoreDNS 1.2.6 (Caddy's caddyfile lexer) reads it: server blocks `KEY[, KEY…] {
 * directive args… [{ sub-block }] … }`, `#` comments, quoted words; keys like `.:53`,
 * `cluster.local:53`, `dns://.:53`. Directives must be CoreDNS plugins (1.2.6's plugin.cfg); the
 * ones this stand-in acts on are checked for their arguments as the plugins' setup functions do.
 * Errors read like CoreDNS's: `Corefile:7 - Error during parsing: Unknown directive 'foo'`.
 */

/** CoreDNS 1.2.6's plugins (core/dnsserver/zdirectives.go order). */
export const KNOWN_PLUGINS = [
  'tls', 'reload', 'nsid', 'root', 'bind', 'debug', 'trace', 'health', 'pprof', 'prometheus', 'errors', 'log', 'dnstap', 'chaos',
  'loadbalance', 'cache', 'rewrite', 'dnssec', 'autopath', 'reverse', 'template', 'hosts', 'route53', 'federation', 'kubernetes',
  'file', 'auto', 'secondary', 'etcd', 'loop', 'forward', 'proxy', 'erratic', 'whoami', 'on',
] as const;

export class CorefileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line} - Error during parsing: ${message}`);
  }
}

interface Token {
  text: string;
  line: number;
  /** A word that was quoted: never a brace. */
  quoted: boolean;
  /** The first token on its line. */
  startsLine: boolean;
}

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let lastLine = 0;
  let i = 0;
  const push = (t: string, quoted: boolean, at: number) => {
    out.push({ text: t, line: at, quoted, startsLine: at !== lastLine });
    lastLine = at;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\n') {
      line++;
      i++;
    } else if (/\s/.test(ch)) i++;
    else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === '"') {
      const at = line;
      let word = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && text[i + 1] === '"') {
          word += '"';
          i += 2;
          continue;
        }
        if (text[i] === '\n') line++;
        word += text[i];
        i++;
      }
      if (i >= text.length) throw new CorefileError('Corefile', at, 'Unexpected EOF');
      i++;
      push(word, true, at);
    } else {
      let word = '';
      while (i < text.length && !/\s/.test(text[i]!)) word += text[i++];
      push(word, false, line);
    }
  }
  return out;
}

export interface Directive {
  name: string;
  args: string[];
  line: number;
  /** The sub-block's lines: each a word list. */
  block: Array<{ words: string[]; line: number }>;
}

export interface ServerBlock {
  keys: string[];
  line: number;
  directives: Directive[];
}

/** A server block key's zone and port (`.:53` → `.`, 53; `dns://cluster.local` → `cluster.local.`, default). */
export function parseKey(key: string, defaultPort: number, file: string, line: number): { zone: string; port: number } {
  let k = key;
  if (k.startsWith('dns://')) k = k.slice(6);
  else if (/^[a-z]+:\/\//.test(k)) throw new CorefileError(file, line, `unsupported scheme in ${key}`);
  let port = defaultPort;
  const colon = k.lastIndexOf(':');
  if (colon >= 0) {
    const p = k.slice(colon + 1);
    if (!/^\d+$/.test(p) || Number(p) > 65535) throw new CorefileError(file, line, `invalid port in ${key}`);
    port = Number(p);
    k = k.slice(0, colon);
  }
  if (k === '') k = '.';
  return { zone: k.endsWith('.') ? k.toLowerCase() : `${k.toLowerCase()}.`, port };
}

export function parseCorefile(text: string, file = 'Corefile'): ServerBlock[] {
  const toks = tokenize(text);
  const blocks: ServerBlock[] = [];
  let i = 0;
  const eof = (line: number) => new CorefileError(file, line, 'Unexpected EOF');
  while (i < toks.length) {
    const first = toks[i]!;
    if (first.text === '{' || first.text === '}') throw new CorefileError(file, first.line, `Unexpected '${first.text}'`);
    const keys: string[] = [];
    // Keys: words (comma separated) up to the opening brace.
    while (i < toks.length && !(toks[i]!.text === '{' && !toks[i]!.quoted)) {
      for (const k of toks[i]!.text.split(',')) if (k !== '') keys.push(k);
      i++;
      if (i < toks.length && toks[i]!.startsLine && toks[i]!.text !== '{') {
        // A server block without braces holds directives on the following lines: not supported by this stand-in.
        throw new CorefileError(file, toks[i]!.line, `Expected '{' after ${keys.join(', ')}`);
      }
    }
    if (i >= toks.length) throw eof(first.line);
    i++; // '{'
    const directives: Directive[] = [];
    for (;;) {
      if (i >= toks.length) throw eof(toks[toks.length - 1]!.line);
      const t = toks[i]!;
      if (t.text === '}' && !t.quoted) {
        i++;
        break;
      }
      if (t.text === '{' && !t.quoted) throw new CorefileError(file, t.line, "Unexpected '{'");
      const d: Directive = { name: t.text, args: [], line: t.line, block: [] };
      if (!(KNOWN_PLUGINS as readonly string[]).includes(d.name)) throw new CorefileError(file, t.line, `Unknown directive '${d.name}'`);
      i++;
      while (i < toks.length && !toks[i]!.startsLine && !(toks[i]!.text === '{' && !toks[i]!.quoted) && !(toks[i]!.text === '}' && !toks[i]!.quoted)) d.args.push(toks[i++]!.text);
      if (i < toks.length && toks[i]!.text === '{' && !toks[i]!.quoted && !toks[i]!.startsLine) {
        const open = toks[i]!;
        i++;
        let current: { words: string[]; line: number } | undefined;
        for (;;) {
          if (i >= toks.length) throw eof(open.line);
          const s = toks[i]!;
          if (s.text === '}' && !s.quoted) {
            i++;
            break;
          }
          if (s.text === '{' && !s.quoted) throw new CorefileError(file, s.line, "Unexpected '{'");
          if (!current || s.startsLine) {
            current = { words: [], line: s.line };
            d.block.push(current);
          }
          current.words.push(s.text);
          i++;
        }
      }
      directives.push(d);
    }
    if (keys.length === 0) throw new CorefileError(file, first.line, 'server block without a key');
    blocks.push({ keys, line: first.line, directives });
  }
  return blocks;
}

/** What the stand-in serves, from the parsed blocks (the plugins' setup, with their errors). */
export interface KubernetesPlugin {
  zones: string[];
  pods: 'disabled' | 'insecure' | 'verified';
  fallthrough: string[] | undefined;
  ttl: number;
  upstream: string[];
  /** `endpoint URL`: the API server to use instead of the in-cluster configuration (no credentials). */
  endpoint?: string;
}

export interface ServerConfig {
  zones: string[];
  port: number;
  bind: string[];
  kubernetes?: KubernetesPlugin;
  health?: string;
  prometheus?: string;
  /** proxy/forward: FROM and the upstreams (parsed, never contacted: the lab has no way out). */
  forward?: { from: string; to: string[] };
  cache?: number;
  loadbalance: boolean;
  log: boolean;
  errors: boolean;
  loop: boolean;
  reload: boolean;
}

function fqdn(z: string): string {
  const l = z.toLowerCase();
  return l.endsWith('.') ? l : `${l}.`;
}

function argErr(file: string, d: Directive, msg = 'Wrong argument count or unexpected line ending after') {
  return new CorefileError(file, d.line, `${msg} '${d.args[d.args.length - 1] ?? d.name}'`);
}

export function serverConfigs(blocks: readonly ServerBlock[], defaultPort = 53, file = 'Corefile'): ServerConfig[] {
  const out: ServerConfig[] = [];
  const seen = new Set<string>();
  for (const b of blocks) {
    const keys = b.keys.map((k) => parseKey(k, defaultPort, file, b.line));
    const port = keys[0]!.port;
    if (keys.some((k) => k.port !== port)) throw new CorefileError(file, b.line, 'all keys of a server block must use one port');
    for (const k of keys) {
      const id = `${k.zone}:${k.port}`;
      if (seen.has(id)) throw new CorefileError(file, b.line, `cannot serve ${id} - it is already defined`);
      seen.add(id);
    }
    const cfg: ServerConfig = { zones: keys.map((k) => k.zone), port, bind: [], loadbalance: false, log: false, errors: false, loop: false, reload: false };
    const once = new Set<string>();
    for (const d of b.directives) {
      if (['kubernetes', 'health', 'prometheus', 'cache', 'proxy', 'forward', 'loop', 'reload', 'loadbalance', 'errors'].includes(d.name)) {
        const group = d.name === 'proxy' ? 'forward' : d.name;
        if (once.has(group) && d.name !== 'proxy') throw new CorefileError(file, d.line, `plugin/${d.name}: this plugin can only be used once per Server Block`);
        once.add(group);
      }
      switch (d.name) {
        case 'kubernetes': {
          const zones = d.args.length > 0 ? d.args.map(fqdn) : cfg.zones;
          const k: KubernetesPlugin = { zones, pods: 'disabled', fallthrough: undefined, ttl: 5, upstream: [] };
          for (const s of d.block) {
            const [opt, ...rest] = s.words;
            const bad = () => new CorefileError(file, s.line, `Wrong argument count or unexpected line ending after '${s.words[s.words.length - 1]}'`);
            switch (opt) {
              case 'pods':
                if (rest.length !== 1 || !['disabled', 'insecure', 'verified'].includes(rest[0]!)) throw new CorefileError(file, s.line, `plugin/kubernetes: wrong value for pods: ${rest.join(' ')},  must be one of: disabled, verified, insecure`);
                k.pods = rest[0] as KubernetesPlugin['pods'];
                break;
              case 'fallthrough':
                k.fallthrough = rest.map(fqdn);
                break;
              case 'upstream':
                k.upstream = rest;
                break;
              case 'ttl': {
                const n = Number(rest[0]);
                if (rest.length !== 1 || !Number.isInteger(n) || n < 0 || n > 3600) throw bad();
                k.ttl = n;
                break;
              }
              case 'endpoint':
                if (rest.length !== 1 || !/^https?:\/\//.test(rest[0]!)) throw bad();
                k.endpoint = rest[0]!;
                break;
              case 'tls':
              case 'kubeconfig':
              case 'namespaces':
              case 'labels':
              case 'endpoint_pod_names':
              case 'noendpoints':
              case 'ignore':
              case 'transfer':
                break;
              default:
                throw new CorefileError(file, s.line, `plugin/kubernetes: unknown property '${opt ?? ''}'`);
            }
          }
          cfg.kubernetes = k;
          break;
        }
        case 'health':
          if (d.args.length > 1) throw argErr(file, d);
          cfg.health = d.args[0] ?? ':8080';
          break;
        case 'prometheus':
          if (d.args.length > 1) throw argErr(file, d);
          cfg.prometheus = d.args[0] ?? 'localhost:9153';
          break;
        case 'proxy':
        case 'forward':
          if (d.args.length < 2) throw argErr(file, d);
          cfg.forward = { from: fqdn(d.args[0]!), to: d.args.slice(1) };
          break;
        case 'cache': {
          const n = d.args[0] === undefined ? 3600 : Number(d.args[0]);
          if (!Number.isInteger(n) || n <= 0) throw new CorefileError(file, d.line, `plugin/cache: cache TTL can not be zero or negative: ${d.args[0] ?? ''}`);
          cfg.cache = n;
          break;
        }
        case 'bind':
          if (d.args.length === 0) throw argErr(file, d);
          cfg.bind = d.args;
          break;
        case 'loadbalance':
          if (d.args.length > 1 || (d.args[0] !== undefined && d.args[0] !== 'round_robin')) throw new CorefileError(file, d.line, `plugin/loadbalance: unknown policy: ${d.args[0] ?? ''}`);
          cfg.loadbalance = true;
          break;
        case 'log':
          cfg.log = true;
          break;
        case 'errors':
          cfg.errors = true;
          break;
        case 'loop':
          if (d.args.length > 0) throw argErr(file, d);
          cfg.loop = true;
          break;
        case 'reload':
          cfg.reload = true;
          break;
        default:
          // A CoreDNS plugin this stand-in does not act on: accepted, ignored (see docs/standins.md).
          break;
      }
    }
    out.push(cfg);
  }
  return out;
}
