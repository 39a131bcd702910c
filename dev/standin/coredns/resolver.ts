/**
 * Answers as CoreDNS 1.2.6's kubernetes plugin gives them, from the services and endpoints it
 * holds (a pure function of the query, the server blocks and that data):
 *   <svc>.<ns>.svc.<zone>               A: the cluster IP; headless: the endpoints' IPs
 *   <host>.<svc>.<ns>.svc.<zone>        A: the endpoint with that hostname (headless)
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV, and SRV on <svc>.<ns>.svc.<zone> for every port
 *   <a-b-c-d>.<ns>.pod.<zone>           A: a.b.c.d (`pods insecure`)
 *   PTR in in-addr.arpa for cluster IPs and endpoint IPs
 * Unknown names in the zone: NXDOMAIN with the zone's SOA; known names without records of the
 * type: NOERROR, no answer, the SOA. Names no block serves: REFUSED. Names that fall to proxy /
 * forward (outside the kubernetes zones, or fallthrough): SERVFAIL — the stand-in sends nothing
 * out of the lab.
 */
import { CLASS_IN, RCODE, TYPE, type Message, type Question, type ResourceRecord } from './dns.js';
import type { ServerConfig } from './corefile.js';

export interface ServiceData {
  namespace: string;
  name: string;
  clusterIP: string;
  type: string;
  ports: Array<{ name: string; port: number; protocol: string }>;
}

export interface EndpointData {
  namespace: string;
  name: string;
  addresses: Array<{ ip: string; hostname?: string }>;
  ports: Array<{ name: string; port: number; protocol: string }>;
}

export interface ClusterData {
  services: ReadonlyMap<string, ServiceData>;
  endpoints: ReadonlyMap<string, EndpointData>;
}

export type Outcome = { kind: 'answer'; rcode: number; answers: ResourceRecord[]; authority: ResourceRecord[]; authoritative: boolean } | { kind: 'forward' } | { kind: 'refused' };

function inZone(name: string, zone: string): boolean {
  return zone === '.' || name === zone || name.endsWith(`.${zone}`);
}

/** The block serving `name`: the longest zone that contains it. */
export function pickServer(servers: readonly ServerConfig[], name: string): ServerConfig | undefined {
  let best: { s: ServerConfig; len: number } | undefined;
  for (const s of servers) for (const z of s.zones) if (inZone(name, z) && (!best || z.length > best.len)) best = { s, len: z.length };
  return best?.s;
}

function soa(zone: string, ttl: number): ResourceRecord {
  const z = zone === '.' ? '' : zone;
  return { name: zone, class: CLASS_IN, ttl, data: { type: 'SOA', mname: `ns.dns.${z}`, rname: `hostmaster.${z}`, serial: 1543190400, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl } };
}

function isHeadless(s: ServiceData): boolean {
  return s.clusterIP === 'None' || s.clusterIP === '';
}

export function resolve(servers: readonly ServerConfig[], data: ClusterData, q: Question): Outcome {
  const server = pickServer(servers, q.name);
  if (!server) return { kind: 'refused' };
  const k = server.kubernetes;
  const zone = k?.zones.filter((z) => inZone(q.name, z)).sort((a, b) => b.length - a.length)[0];
  if (!k || !zone) return server.forward && inZone(q.name, server.forward.from) ? { kind: 'forward' } : { kind: 'refused' };
  const ttl = k.ttl;
  const fallsThrough = k.fallthrough !== undefined && (k.fallthrough.length === 0 || k.fallthrough.some((z) => inZone(q.name, z)));
  const a = (name: string, ip: string): ResourceRecord => (ip.includes(':') ? { name, class: CLASS_IN, ttl, data: { type: 'AAAA', address: ip } } : { name, class: CLASS_IN, ttl, data: { type: 'A', address: ip } });
  const answer = (records: ResourceRecord[]): Outcome => {
    const wanted = records.filter((r) => q.type === TYPE.ANY || (q.type === TYPE.A && r.data.type === 'A') || (q.type === TYPE.AAAA && r.data.type === 'AAAA') || (q.type === TYPE.SRV && r.data.type === 'SRV') || (q.type === TYPE.PTR && r.data.type === 'PTR'));
    return { kind: 'answer', rcode: RCODE.NOERROR, answers: wanted, authority: wanted.length === 0 ? [soa(zone, ttl)] : [], authoritative: true };
  };
  const nx = (): Outcome => (fallsThrough ? (server.forward ? { kind: 'forward' } : { kind: 'refused' }) : { kind: 'answer', rcode: RCODE.NXDOMAIN, answers: [], authority: [soa(zone, ttl)], authoritative: true });

  if (q.name === zone) return answer([]);

  // Reverse zones: PTR for cluster IPs and endpoint IPs.
  if (zone.endsWith('in-addr.arpa.') || zone.endsWith('ip6.arpa.')) {
    const labels = q.name.slice(0, -'.in-addr.arpa.'.length).split('.');
    if (!q.name.endsWith('.in-addr.arpa.') || labels.length !== 4) return nx();
    const ip = labels.reverse().join('.');
    const targets: string[] = [];
    for (const s of data.services.values()) if (s.clusterIP === ip) targets.push(`${s.name}.${s.namespace}.svc.${k.zones.find((z) => !z.endsWith('arpa.')) ?? 'cluster.local.'}`);
    for (const e of data.endpoints.values()) {
      for (const ad of e.addresses) if (ad.ip === ip && ad.hostname) targets.push(`${ad.hostname}.${e.name}.${e.namespace}.svc.${k.zones.find((z) => !z.endsWith('arpa.')) ?? 'cluster.local.'}`);
    }
    if (targets.length === 0) return nx();
    return answer(targets.map((t) => ({ name: q.name, class: CLASS_IN, ttl, data: { type: 'PTR', target: t } })));
  }

  const rel = q.name.slice(0, -(zone.length + 1)).split('.');
  // <a-b-c-d>.<ns>.pod
  if (rel.length === 3 && rel[2] === 'pod') {
    if (k.pods === 'disabled') return nx();
    const ip = rel[0]!.replace(/-/g, '.');
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return nx();
    return answer([a(q.name, ip)]);
  }
  if (rel[rel.length - 1] !== 'svc') return rel.length === 1 && rel[0] === 'svc' ? answer([]) : nx();
  const parts = rel.slice(0, -1);
  if (parts.length === 1) {
    // <ns>.svc: a namespace with services exists as an empty name.
    return [...data.services.values()].some((s) => s.namespace === parts[0]) ? answer([]) : nx();
  }
  const [ns, svcName] = [parts[parts.length - 1]!, parts[parts.length - 2]!];
  const svc = data.services.get(`${ns}/${svcName}`);
  if (!svc || svc.type === 'ExternalName') return nx();
  const eps = data.endpoints.get(`${ns}/${svcName}`);
  const svcFqdn = `${svcName}.${ns}.svc.${zone}`;
  if (parts.length === 2) {
    const records: ResourceRecord[] = [];
    if (isHeadless(svc)) for (const ad of eps?.addresses ?? []) records.push(a(q.name, ad.ip));
    else records.push(a(q.name, svc.clusterIP));
    if (q.type === TYPE.SRV) {
      for (const p of svc.ports) {
        if (isHeadless(svc)) {
          for (const ad of eps?.addresses ?? []) records.push({ name: q.name, class: CLASS_IN, ttl, data: { type: 'SRV', priority: 0, weight: 100, port: p.port, target: `${ad.hostname ?? ad.ip.replace(/[.:]/g, '-')}.${svcFqdn}` } });
        } else records.push({ name: q.name, class: CLASS_IN, ttl, data: { type: 'SRV', priority: 0, weight: 100, port: p.port, target: svcFqdn } });
      }
    }
    return answer(records);
  }
  if (parts.length === 3) {
    // <endpoint hostname or dashed IP>.<svc>.<ns>.svc
    const host = parts[0]!;
    const match = (eps?.addresses ?? []).filter((ad) => ad.hostname === host || ad.ip.replace(/[.:]/g, '-') === host);
    return match.length === 0 ? nx() : answer(match.map((ad) => a(q.name, ad.ip)));
  }
  if (parts.length === 4 && parts[0]!.startsWith('_') && parts[1]!.startsWith('_')) {
    const portName = parts[0]!.slice(1);
    const proto = parts[1]!.slice(1).toUpperCase();
    const ports = svc.ports.filter((p) => p.name === portName && p.protocol.toUpperCase() === proto);
    if (ports.length === 0) return nx();
    return answer(ports.map((p) => ({ name: q.name, class: CLASS_IN, ttl, data: { type: 'SRV' as const, priority: 0, weight: 100, port: p.port, target: svcFqdn } })));
  }
  return nx();
}

/** The reply to a query message. */
export function reply(servers: readonly ServerConfig[], data: ClusterData, query: Message, shuffle: (n: number) => number = (n) => Math.floor(Math.random() * n)): Message {
  const base: Message = { id: query.id, qr: true, opcode: query.opcode, aa: false, tc: false, rd: query.rd, ra: true, rcode: RCODE.NOERROR, questions: query.questions.slice(0, 1), answers: [], authority: [], additional: [] };
  if (query.opcode !== 0) return { ...base, rcode: RCODE.NOTIMP };
  const q = query.questions[0];
  if (!q || query.questions.length !== 1) return { ...base, rcode: RCODE.FORMERR };
  if (q.class !== CLASS_IN) return { ...base, rcode: RCODE.REFUSED };
  const out = resolve(servers, data, q);
  if (out.kind === 'refused') return { ...base, rcode: RCODE.REFUSED };
  if (out.kind === 'forward') return { ...base, rcode: RCODE.SERVFAIL };
  let answers = out.answers;
  if (pickServer(servers, q.name)?.loadbalance && answers.length > 1) {
    answers = [...answers];
    for (let i = answers.length - 1; i > 0; i--) {
      const j = shuffle(i + 1);
      [answers[i], answers[j]] = [answers[j]!, answers[i]!];
    }
  }
  return { ...base, aa: out.authoritative, rcode: out.rcode, answers, authority: out.authority };
}
