/**
 * Address handling the certificate plan needs: which SAN values are IPs, their canonical
 * spelling (so a plan and a parsed certificate compare equal), and a CIDR's first host address.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** IPv6 in RFC 5952 form; IPv4 unchanged (isIP already refuses odd spellings). */
export function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return ipaddr.IPv6.parse(ip).toRFC5952String();
}

/** The first host address of a CIDR (network address + 1), as Kubespray's kube_apiserver_ip. */
export function firstAddressOf(cidr: string): string {
  const [addr] = ipaddr.parseCIDR(cidr);
  const network = addr.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  const bytes = network.toByteArray();
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = (bytes[i]! + 1) & 0xff;
    if (bytes[i] !== 0) break;
  }
  const first = ipaddr.fromByteArray(bytes);
  return first.kind() === 'ipv6' ? (first as ipaddr.IPv6).toRFC5952String() : first.toString();
}

/** Splits names into typed SANs, canonical and without duplicates, keeping first-seen order. */
export function typedSans(values: Iterable<string | undefined>): { dns: string[]; ip: string[] } {
  const dns: string[] = [];
  const ip: string[] = [];
  for (const v of values) {
    if (v === undefined || v === '') continue;
    if (isIP(v) !== 0) {
      const c = canonicalIp(v);
      if (!ip.includes(c)) ip.push(c);
    } else {
      const lower = v.toLowerCase();
      if (!dns.includes(lower)) dns.push(lower);
    }
  }
  return { dns, ip };
}
