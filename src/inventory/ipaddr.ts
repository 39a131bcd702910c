/**
 * Ansible's `ipaddr` filter family (ipaddr, ipv4, ipv6, ipwrap) with the semantics of its
 * netaddr-based implementation, so Kubespray's group_vars evaluate as under Ansible, e.g.
 * `'10.233.0.0/18' | ipaddr('net') | ipaddr(3) | ipaddr('address')` → `10.233.0.3`.
 * Parsing and formatting addresses is left to ipaddr.js; the query rules are Ansible's.
 * Python's None is returned as null and False as false, as the filters' callers expect.
 */
import ipaddrJs from 'ipaddr.js';

export type IpVersion = 4 | 6;

/** An address with a prefix length, like netaddr.IPNetwork. */
export interface IpNet {
  version: IpVersion;
  ip: bigint;
  prefix: number;
}

export type ValueType = 'address' | 'network';

export class IpFilterError extends Error {}

const bitsOf = (v: IpVersion) => (v === 4 ? 32 : 128);
const MAX = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n } as const;

function toBigInt(bytes: number[]): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function fromBigInt(version: IpVersion, n: bigint): string {
  const bytes: number[] = [];
  for (let i = bitsOf(version) / 8 - 1; i >= 0; i--) bytes.push(Number((n >> BigInt(i * 8)) & 0xffn));
  return ipaddrJs.fromByteArray(bytes).toString();
}

/** Strict textual address: dotted quad for IPv4 (no `10.1` shorthand), any valid IPv6. */
export function parseAddress(text: string): { version: IpVersion; ip: bigint } | undefined {
  const s = text.trim();
  if (ipaddrJs.IPv4.isValidFourPartDecimal(s)) return { version: 4, ip: toBigInt(ipaddrJs.IPv4.parse(s).toByteArray()) };
  if (s.includes(':') && ipaddrJs.IPv6.isValid(s) && !s.includes('%')) {
    return { version: 6, ip: toBigInt(ipaddrJs.IPv6.parse(s).toByteArray()) };
  }
  return undefined;
}

/** `10.0.0.0/8`, `10.0.0.0/255.0.0.0`, `fd00::/64`, or a bare address (vtype address). */
export function parseIpNet(value: unknown): { net: IpNet; vtype: ValueType } | undefined {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value.trim()))) {
    if (typeof value === 'number' && !Number.isInteger(value)) return undefined;
    const n = BigInt(typeof value === 'number' ? value : value.trim());
    if (n < 0n) return undefined;
    if (n <= MAX[4]) return { net: { version: 4, ip: n, prefix: 32 }, vtype: 'address' };
    if (n <= MAX[6]) return { net: { version: 6, ip: n, prefix: 128 }, vtype: 'address' };
    return undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const slash = text.indexOf('/');
  if (slash < 0) {
    const a = parseAddress(text);
    return a ? { net: { ...a, prefix: bitsOf(a.version) }, vtype: 'address' } : undefined;
  }
  const a = parseAddress(text.slice(0, slash));
  if (!a) return undefined;
  const p = text.slice(slash + 1).trim();
  let prefix: number | undefined;
  if (/^\d{1,3}$/.test(p)) prefix = Number(p);
  else if (a.version === 4 && ipaddrJs.IPv4.isValidFourPartDecimal(p)) {
    prefix = ipaddrJs.IPv4.parse(p).prefixLengthFromSubnetMask() ?? undefined;
  }
  if (prefix === undefined || prefix > bitsOf(a.version)) return undefined;
  return { net: { ...a, prefix }, vtype: 'network' };
}

export const netSize = (v: IpNet): bigint => 1n << BigInt(bitsOf(v.version) - v.prefix);
const hostmask = (v: IpNet): bigint => netSize(v) - 1n;
export const networkOf = (v: IpNet): bigint => v.ip & ~hostmask(v) & MAX[v.version];
export const lastOf = (v: IpNet): bigint => networkOf(v) | hostmask(v);
const netmaskOf = (v: IpNet): bigint => MAX[v.version] & ~hostmask(v);
/** netaddr has no broadcast for IPv4 /31 and /32. */
const broadcastOf = (v: IpNet): bigint | undefined =>
  v.version === 4 && bitsOf(4) - v.prefix <= 1 ? undefined : lastOf(v);

export const formatIp = (version: IpVersion, n: bigint): string => fromBigInt(version, n);
const fmt = (v: IpNet, n: bigint) => fromBigInt(v.version, n);
const cidr = (v: IpNet) => `${fmt(v, networkOf(v))}/${v.prefix}`;
const asWritten = (v: IpNet) => `${fmt(v, v.ip)}/${v.prefix}`;

function isPrivate(v: IpNet): boolean {
  const addr = ipaddrJs.parse(fmt(v, v.ip));
  const range = addr.range();
  return ['private', 'uniqueLocal', 'linkLocal', 'loopback', 'carrierGradeNat', 'reserved'].includes(range);
}

type Query = (v: IpNet, vtype: ValueType, value: unknown) => unknown;

const QUERIES: Readonly<Record<string, Query>> = {
  '': (v, vtype) => (vtype === 'address' ? fmt(v, v.ip) : asWritten(v)),
  address: (v) => {
    if (netSize(v) === 1n) return fmt(v, v.ip);
    if (v.ip !== networkOf(v) || broadcastOf(v) === undefined) return fmt(v, v.ip);
    return null;
  },
  ip: (v) => QUERIES['address']!(v, 'network', undefined),
  bool: () => true,
  broadcast: (v) => (netSize(v) > 2n ? fmt(v, broadcastOf(v) ?? lastOf(v)) : null),
  cidr: (v) => cidr(v),
  subnet: (v) => cidr(v),
  'network/prefix': (v) => cidr(v),
  first_usable: (v, vtype) => {
    if (vtype === 'address') throw new IpFilterError('Not a network address');
    const size = netSize(v);
    if (size === 2n) return fmt(v, networkOf(v));
    if (size > 1n) return fmt(v, networkOf(v) + 1n);
    return null;
  },
  last_usable: (v, vtype) => {
    if (vtype === 'address') throw new IpFilterError('Not a network address');
    const size = netSize(v);
    if (size === 2n) return fmt(v, lastOf(v));
    if (size > 1n) return fmt(v, lastOf(v) - 1n);
    return null;
  },
  host: (v) => {
    if (netSize(v) === 1n) return asWritten(v);
    return v.ip !== networkOf(v) ? asWritten(v) : null;
  },
  'host/prefix': (v) => (netSize(v) > 1n && v.ip !== networkOf(v) ? asWritten(v) : null),
  'address/prefix': (v) => (netSize(v) > 1n && v.ip !== networkOf(v) ? asWritten(v) : null),
  hostmask: (v) => fmt(v, hostmask(v)),
  int: (v, vtype) => (vtype === 'network' ? `${v.ip}/${v.prefix}` : Number(v.ip)),
  ipv4: (v, _t, value) => (v.version === 4 ? value : ipv6ToIpv4(v)),
  v4: (v, t, value) => QUERIES['ipv4']!(v, t, value),
  ipv6: (v, _t, value) => (v.version === 6 ? value : ipv4ToIpv6(v)),
  v6: (v, t, value) => QUERIES['ipv6']!(v, t, value),
  net: (v) => (netSize(v) > 1n && v.ip === networkOf(v) ? cidr(v) : null),
  netmask: (v) => fmt(v, netmaskOf(v)),
  network: (v) => fmt(v, networkOf(v)),
  prefix: (v) => v.prefix,
  private: (v, _t, value) => (isPrivate(v) ? value : null),
  public: (v, _t, value) => (!isPrivate(v) && ipaddrJs.parse(fmt(v, v.ip)).range() === 'unicast' ? value : null),
  size: (v) => Number(netSize(v)),
  type: (v, vtype) => vtype,
  version: (v) => v.version,
  wrap: (v, vtype, value) => {
    if (v.version !== 6) return value;
    return vtype === 'address' ? `[${fmt(v, v.ip)}]` : `[${fmt(v, v.ip)}]/${v.prefix}`;
  },
};

function ipv4ToIpv6(v: IpNet): string {
  const mapped = (0xffffn << 32n) | v.ip;
  return `${fromBigInt(6, mapped)}/${96 + v.prefix}`;
}

function ipv6ToIpv4(v: IpNet): string | false {
  const high = v.ip >> 32n;
  if (high !== 0xffffn && high !== 0n) return false;
  return `${fromBigInt(4, v.ip & MAX[4])}/${Math.max(0, v.prefix - 96)}`;
}

/** Ansible's ipaddr(value, query, version). */
export function ipaddr(value: unknown, query: unknown = '', version: IpVersion | false = false, alias = 'ipaddr'): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const el of value) {
      const r = ipaddr(el, query, version, alias);
      if (r !== false && r !== null && r !== undefined && r !== '') out.push(r);
    }
    return out;
  }
  if (value === undefined || value === null || value === false || value === true || value === '') return false;
  const q = query === undefined || query === null ? '' : String(query);
  // A network as the query keeps the value only when the value lies inside it.
  if (q !== '' && !(q in QUERIES) && !/^-?\d+$/.test(q)) {
    const within = parseIpNet(q);
    if (!within || within.vtype !== 'network') throw new IpFilterError(`${alias}: unknown filter type: ${q}`);
    const v = parseIpNet(value);
    if (!v || v.net.version !== within.net.version) return false;
    const lo = networkOf(within.net);
    const hi = lastOf(within.net);
    return networkOf(v.net) >= lo && lastOf(v.net) <= hi ? value : false;
  }
  const parsed = parseIpNet(value);
  if (!parsed) return false;
  const { net: v, vtype } = parsed;
  if (version && v.version !== version) return false;
  const fn = QUERIES[q];
  if (fn) return fn(v, vtype, value);
  // An integer query indexes into the network (negative from its end).
  const index = BigInt(q);
  const size = netSize(v);
  if (size === 1n) return vtype === 'address' ? fmt(v, v.ip) : asWritten(v);
  const offset = index < 0n ? size + index : index;
  if (offset < 0n || offset >= size) return false;
  return `${fmt(v, networkOf(v) + offset)}/${v.prefix}`;
}

/** Ansible's ipwrap: IPv6 addresses in brackets, everything else unchanged. */
export function ipwrap(value: unknown, query: unknown = ''): unknown {
  if (Array.isArray(value)) {
    return value.map((el) => {
      const r = ipaddr(el, query, false, 'ipwrap');
      return r ? ipaddr(r, 'wrap') : el;
    });
  }
  try {
    const r = ipaddr(value, query, false, 'ipwrap');
    return r ? ipaddr(r, 'wrap') : value;
  } catch {
    return value;
  }
}
