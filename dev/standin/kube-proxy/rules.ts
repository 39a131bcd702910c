/**
 * kube-proxy v1.13's iptables mode as a pure function: Services and Endpoints (plus what
 * `iptables-save` shows now) in, one `iptables-restore --noflush` input out, laid out as v1.13's
 * proxier.syncProxyRules writes it:
 *
 *   filter  KUBE-SERVICES           REJECT for cluster IPs of services without endpoints
 *           KUBE-EXTERNAL-SERVICES  REJECT for node ports of services without endpoints
 *           KUBE-FORWARD            ACCEPT marked traffic and pod conntrack (with clusterCIDR)
 *   nat     KUBE-SERVICES           per service port: cluster IP (KUBE-MARK-MASQ from outside
 *                                   clusterCIDR), jump to KUBE-SVC-<hash>; last: KUBE-NODEPORTS
 *                                   for `-m addrtype --dst-type LOCAL`
 *           KUBE-NODEPORTS          per node port: KUBE-MARK-MASQ, KUBE-SVC-<hash>
 *           KUBE-SVC-<hash>         one rule per endpoint, `-m statistic --mode random
 *                                   --probability 1/(n-i)` but the last
 *           KUBE-SEP-<hash>         hairpin KUBE-MARK-MASQ (source = the endpoint), DNAT
 *           KUBE-MARK-MASQ          MARK --set-xmark <masquerade bit>
 *           KUBE-POSTROUTING        MASQUERADE what carries the mark
 * Chains of service ports and endpoints that no longer exist are flushed and deleted (`-X`).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

const servicePortSchema = z.looseObject({
  name: z.string().optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
  port: z.number().int(),
  nodePort: z.number().int().optional(),
});
export const serviceSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }),
  spec: z.looseObject({
    type: z.string().optional(),
    clusterIP: z.string().optional(),
    ports: z.array(servicePortSchema).nullish(),
    sessionAffinity: z.string().optional(),
  }),
});
export type Service = z.infer<typeof serviceSchema>;

export const endpointsSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }),
  subsets: z
    .array(
      z.looseObject({
        addresses: z.array(z.looseObject({ ip: z.string(), nodeName: z.string().nullish() })).nullish(),
        ports: z.array(z.looseObject({ name: z.string().optional(), port: z.number().int(), protocol: z.string().optional() })).nullish(),
      }),
    )
    .nullish(),
});
export type Endpoints = z.infer<typeof endpointsSchema>;

export interface RuleSettings {
  /** iptables.masqueradeBit (0…31, default 14). */
  masqueradeBit: number;
  masqueradeAll: boolean;
  /** Pod network; '' when unset (then no masquerade rule for off-cluster traffic). */
  clusterCIDR: string;
}

/** Chain name → its `:CHAIN POLICY [packets:bytes]` line, as iptables-save prints it. */
export type ExistingChains = Map<string, string>;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** v1.13 portProtoHash: sha256 of servicePortName + protocol, base32 (std), first 16 characters. */
export function portProtoHash(servicePortName: string, protocol: string): string {
  return base32(createHash('sha256').update(servicePortName + protocol).digest()).slice(0, 16);
}

export function serviceChainName(servicePortName: string, protocol: string): string {
  return `KUBE-SVC-${portProtoHash(servicePortName, protocol)}`;
}

/** v1.13 servicePortEndpointChainName: the same hash over servicePortName + protocol + "ip:port". */
export function endpointChainName(servicePortName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${base32(createHash('sha256').update(servicePortName + protocol + endpoint).digest()).slice(0, 16)}`;
}

/** v1.13 computeProbability: 1/n with five decimals. */
export function probability(n: number): string {
  return (1 / n).toFixed(5);
}

/** v1.13's mark: fmt.Sprintf("%#08x/%#08x", 1<<bit, 1<<bit). */
export function masqueradeMark(bit: number): string {
  const hex = `0x${(2 ** bit).toString(16).padStart(8, '0')}`;
  return `${hex}/${hex}`;
}

function toCidr(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** One service port as the proxier sees it (v1.13 serviceInfo). */
export interface ServicePortInfo {
  /** ServicePortName.String(): `ns/name:portName` (the colon even for an unnamed port). */
  name: string;
  protocol: string;
  clusterIP: string;
  port: number;
  nodePort: number;
  endpoints: string[];
}

/** v1.13 ShouldSkipService: no cluster IP, headless, or ExternalName. */
function skipped(svc: Service): boolean {
  const ip = svc.spec.clusterIP ?? '';
  return ip === '' || ip === 'None' || svc.spec.type === 'ExternalName';
}

/** The service ports with their endpoints ("ip:port", matched by port name), sorted by name. */
export function servicePorts(services: readonly Service[], endpoints: readonly Endpoints[]): ServicePortInfo[] {
  const eps = new Map<string, string[]>();
  for (const e of endpoints) {
    const nsn = `${e.metadata.namespace ?? 'default'}/${e.metadata.name}`;
    for (const ss of e.subsets ?? []) {
      for (const p of ss.ports ?? []) {
        if (p.port === 0) continue;
        const key = `${nsn}:${p.name ?? ''}`;
        const list = eps.get(key) ?? [];
        for (const a of ss.addresses ?? []) if (a.ip !== '') list.push(joinHostPort(a.ip, p.port));
        eps.set(key, list);
      }
    }
  }
  const out: ServicePortInfo[] = [];
  for (const svc of services) {
    if (skipped(svc)) continue;
    const nsn = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
    for (const p of svc.spec.ports ?? []) {
      const name = `${nsn}:${p.name ?? ''}`;
      out.push({ name, protocol: (p.protocol ?? 'TCP').toLowerCase(), clusterIP: svc.spec.clusterIP!, port: p.port, nodePort: p.nodePort ?? 0, endpoints: [...new Set(eps.get(name) ?? [])] });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `:CHAIN - [0:0]`, or the line iptables-save showed (keeps the counters, as v1.13 does). */
function chainLine(existing: ExistingChains, chain: string): string {
  return existing.get(chain) ?? `:${chain} - [0:0]`;
}

/** Parses `iptables-save -t TABLE` output into chain → chain line. */
export function chainLines(save: string): ExistingChains {
  const out: ExistingChains = new Map();
  for (const line of save.split('\n')) {
    const m = /^:(\S+) /.exec(line);
    if (m) out.set(m[1]!, line.trim());
  }
  return out;
}

export interface RestoreInput {
  ports: readonly ServicePortInfo[];
  settings: RuleSettings;
  existingFilter: ExistingChains;
  existingNat: ExistingChains;
}

/** The iptables-restore input for both tables (v1.13 syncProxyRules). */
export function restoreText({ ports, settings, existingFilter, existingNat }: RestoreInput): string {
  const mark = masqueradeMark(settings.masqueradeBit);
  const filterChains = ['*filter', ...['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD'].map((c) => chainLine(existingFilter, c))];
  const filterRules: string[] = [];
  const natChains = ['*nat', ...['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'].map((c) => chainLine(existingNat, c))];
  const natRules: string[] = [
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -m mark --mark ${mark} -j MASQUERADE`,
    `-A KUBE-MARK-MASQ -j MARK --set-xmark ${mark}`,
  ];
  const active = new Set<string>();

  for (const sp of ports) {
    const proto = sp.protocol;
    const svcChain = serviceChainName(sp.name, proto);
    const hasEndpoints = sp.endpoints.length > 0;
    // The service chain exists even while it has no endpoints (as in v1.13).
    natChains.push(chainLine(existingNat, svcChain));
    active.add(svcChain);
    const clusterArgs = `-A KUBE-SERVICES -m comment --comment "${sp.name} cluster IP" -m ${proto} -p ${proto} -d ${toCidr(sp.clusterIP)} --dport ${sp.port}`;
    if (hasEndpoints) {
      if (settings.masqueradeAll) natRules.push(`${clusterArgs} -j KUBE-MARK-MASQ`);
      else if (settings.clusterCIDR !== '') natRules.push(`${clusterArgs} ! -s ${settings.clusterCIDR} -j KUBE-MARK-MASQ`);
      natRules.push(`${clusterArgs} -j ${svcChain}`);
    } else {
      filterRules.push(`-A KUBE-SERVICES -m comment --comment "${sp.name} has no endpoints" -m ${proto} -p ${proto} -d ${toCidr(sp.clusterIP)} --dport ${sp.port} -j REJECT`);
    }
    if (sp.nodePort !== 0) {
      if (hasEndpoints) {
        const npArgs = `-A KUBE-NODEPORTS -m comment --comment ${sp.name} -m ${proto} -p ${proto} --dport ${sp.nodePort}`;
        natRules.push(`${npArgs} -j KUBE-MARK-MASQ`, `${npArgs} -j ${svcChain}`);
      } else {
        filterRules.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment "${sp.name} has no endpoints" -m addrtype --dst-type LOCAL -m ${proto} -p ${proto} --dport ${sp.nodePort} -j REJECT`);
      }
    }
    if (!hasEndpoints) continue;
    const n = sp.endpoints.length;
    const epChains = sp.endpoints.map((ep) => endpointChainName(sp.name, proto, ep));
    for (const c of epChains) {
      natChains.push(chainLine(existingNat, c));
      active.add(c);
    }
    sp.endpoints.forEach((ep, i) => {
      const c = epChains[i]!;
      natRules.push(`-A ${svcChain} -m comment --comment ${sp.name}${i < n - 1 ? ` -m statistic --mode random --probability ${probability(n - i)}` : ''} -j ${c}`);
      const ip = ep.startsWith('[') ? ep.slice(1, ep.indexOf(']')) : ep.slice(0, ep.lastIndexOf(':'));
      natRules.push(`-A ${c} -m comment --comment ${sp.name} -s ${toCidr(ip)} -j KUBE-MARK-MASQ`);
      natRules.push(`-A ${c} -m comment --comment ${sp.name} -m ${proto} -p ${proto} -j DNAT --to-destination ${ep}`);
    });
  }

  // Chains of service ports and endpoints that went away: flushed (their chain line) and deleted.
  for (const [chain, line] of [...existingNat].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (active.has(chain) || !/^KUBE-(SVC|SEP|FW|XLB)-/.test(chain)) continue;
    natChains.push(line);
    natRules.push(`-X ${chain}`);
  }

  natRules.push('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');

  filterRules.push(`-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark} -j ACCEPT`);
  if (settings.clusterCIDR !== '') {
    filterRules.push(
      `-A KUBE-FORWARD -s ${settings.clusterCIDR} -m comment --comment "kubernetes forwarding conntrack pod source rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack pod destination rule" -d ${settings.clusterCIDR} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    );
  }
  return [...filterChains, ...filterRules, 'COMMIT', ...natChains, ...natRules, 'COMMIT', ''].join('\n');
}

/** The jumps into kube-proxy's chains, ensured (prepended) with `iptables -C`/`-I` before each restore. */
export const JUMP_RULES: ReadonlyArray<{ table: 'filter' | 'nat'; chain: string; args: string[] }> = [
  { table: 'filter', chain: 'INPUT', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes externally-visible service portals', '-j', 'KUBE-EXTERNAL-SERVICES'] },
  { table: 'filter', chain: 'OUTPUT', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES'] },
  { table: 'nat', chain: 'OUTPUT', args: ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES'] },
  { table: 'nat', chain: 'PREROUTING', args: ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES'] },
  { table: 'nat', chain: 'POSTROUTING', args: ['-m', 'comment', '--comment', 'kubernetes postrouting rules', '-j', 'KUBE-POSTROUTING'] },
  { table: 'filter', chain: 'FORWARD', args: ['-m', 'comment', '--comment', 'kubernetes forwarding rules', '-j', 'KUBE-FORWARD'] },
];
