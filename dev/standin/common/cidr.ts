/** IP ranges as Go's net.ParseCIDR reads them. */
import { isIP } from 'node:net';

export interface Cidr {
  address: string;
  bits: number;
  family: 4 | 6;
  /** Host bits: 32 - prefix for IPv4. */
  hostBits: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  const prefix = text.slice(slash + 1);
  if (!/^\d+$/.test(prefix)) return undefined;
  const bits = Number(prefix);
  const width = family === 4 ? 32 : 128;
  if (bits > width) return undefined;
  return { address, bits, family, hostBits: width - bits };
}

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The first address of an IPv4 range, masked (10.96.0.5/12 → 10.96.0.0). */
export function networkOf(c: Cidr): number {
  const size = 2 ** c.hostBits;
  return Math.floor(ipv4ToInt(c.address) / size) * size;
}
