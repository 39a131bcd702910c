/**
 * DNS messages on the wire (RFC 1035): decode a query (header, questions; compressed names
 * followed), encode an answer (A, AAAA, SRV, PTR, SOA records; names written uncompressed). Only
 * what a resolver sends and the stand-in answers.
 */

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface Message {
  id: number;
  /** QR, opcode, AA, TC, RD, RA flags and rcode, as separate fields. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  questions: Question[];
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

export type RData =
  | { type: 'A'; address: string }
  | { type: 'AAAA'; address: string }
  | { type: 'PTR'; target: string }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string }
  | { type: 'SOA'; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { type: 'raw'; code: number; data: Buffer };

export interface ResourceRecord {
  name: string;
  class: number;
  ttl: number;
  data: RData;
}

export class DnsFormatError extends Error {}

/** Reads a (possibly compressed) name at `offset`; returns it lower-cased with a trailing dot. */
export function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let jumps = 0; ; ) {
    if (pos >= buf.length) throw new DnsFormatError('name runs past the message');
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError('truncated pointer');
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (++jumps > 32) throw new DnsFormatError('compression loop');
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError('bad label type');
    if (pos + 1 + len > buf.length) throw new DnsFormatError('label runs past the message');
    labels.push(buf.subarray(pos + 1, pos + 1 + len).toString('latin1'));
    pos += 1 + len;
  }
  const name = labels.length === 0 ? '.' : `${labels.join('.').toLowerCase()}.`;
  if (name.length > 255) throw new DnsFormatError('name too long');
  return { name, next };
}

export function encodeName(name: string): Buffer {
  if (name === '.' || name === '') return Buffer.from([0]);
  const parts = (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
  const bufs: Buffer[] = [];
  for (const p of parts) {
    const b = Buffer.from(p, 'latin1');
    if (b.length === 0 || b.length > 63) throw new DnsFormatError(`bad label in ${name}`);
    bufs.push(Buffer.from([b.length]), b);
  }
  bufs.push(Buffer.from([0]));
  return Buffer.concat(bufs);
}

function readRecords(buf: Buffer, offset: number, count: number): { records: ResourceRecord[]; next: number } {
  const records: ResourceRecord[] = [];
  let pos = offset;
  for (let i = 0; i < count; i++) {
    const { name, next } = readName(buf, pos);
    if (next + 10 > buf.length) throw new DnsFormatError('truncated record');
    const type = buf.readUInt16BE(next);
    const cls = buf.readUInt16BE(next + 2);
    const ttl = buf.readUInt32BE(next + 4);
    const len = buf.readUInt16BE(next + 8);
    const start = next + 10;
    if (start + len > buf.length) throw new DnsFormatError('truncated rdata');
    const raw = buf.subarray(start, start + len);
    let data: RData;
    if (type === TYPE.A && len === 4) data = { type: 'A', address: [...raw].join('.') };
    else if (type === TYPE.AAAA && len === 16) data = { type: 'AAAA', address: ipv6Text(raw) };
    else if (type === TYPE.PTR) data = { type: 'PTR', target: readName(buf, start).name };
    else if (type === TYPE.SRV) data = { type: 'SRV', priority: raw.readUInt16BE(0), weight: raw.readUInt16BE(2), port: raw.readUInt16BE(4), target: readName(buf, start + 6).name };
    else data = { type: 'raw', code: type, data: Buffer.from(raw) };
    records.push({ name, class: cls, ttl, data });
    pos = start + len;
  }
  return { records, next: pos };
}

function ipv6Text(raw: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

export function decodeMessage(buf: Buffer): Message {
  if (buf.length < 12) throw new DnsFormatError('message shorter than its header');
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  let pos = 12;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const { name, next } = readName(buf, pos);
    if (next + 4 > buf.length) throw new DnsFormatError('truncated question');
    questions.push({ name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2) });
    pos = next + 4;
  }
  const an = readRecords(buf, pos, counts[1]!);
  const ns = readRecords(buf, an.next, counts[2]!);
  const ar = readRecords(buf, ns.next, counts[3]!);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    questions,
    answers: an.records,
    authority: ns.records,
    additional: ar.records,
  };
}

function ipv6Bytes(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return b;
}

function encodeRData(d: RData): { code: number; bytes: Buffer } {
  switch (d.type) {
    case 'A':
      return { code: TYPE.A, bytes: Buffer.from(d.address.split('.').map(Number)) };
    case 'AAAA':
      return { code: TYPE.AAAA, bytes: ipv6Bytes(d.address) };
    case 'PTR':
      return { code: TYPE.PTR, bytes: encodeName(d.target) };
    case 'SRV': {
      const head = Buffer.alloc(6);
      head.writeUInt16BE(d.priority, 0);
      head.writeUInt16BE(d.weight, 2);
      head.writeUInt16BE(d.port, 4);
      return { code: TYPE.SRV, bytes: Buffer.concat([head, encodeName(d.target)]) };
    }
    case 'SOA': {
      const nums = Buffer.alloc(20);
      [d.serial, d.refresh, d.retry, d.expire, d.minimum].forEach((n, i) => nums.writeUInt32BE(n >>> 0, i * 4));
      return { code: TYPE.SOA, bytes: Buffer.concat([encodeName(d.mname), encodeName(d.rname), nums]) };
    }
    case 'raw':
      return { code: d.code, bytes: d.data };
  }
}

function encodeRecord(r: ResourceRecord): Buffer {
  const { code, bytes } = encodeRData(r.data);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(code, 0);
  fixed.writeUInt16BE(r.class, 2);
  fixed.writeUInt32BE(r.ttl >>> 0, 4);
  fixed.writeUInt16BE(bytes.length, 8);
  return Buffer.concat([encodeName(r.name), fixed, bytes]);
}

export function encodeMessage(m: Message): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(m.id, 0);
  const flags = (m.qr ? 0x8000 : 0) | ((m.opcode & 0xf) << 11) | (m.aa ? 0x0400 : 0) | (m.tc ? 0x0200 : 0) | (m.rd ? 0x0100 : 0) | (m.ra ? 0x0080 : 0) | (m.rcode & 0xf);
  head.writeUInt16BE(flags, 2);
  head.writeUInt16BE(m.questions.length, 4);
  head.writeUInt16BE(m.answers.length, 6);
  head.writeUInt16BE(m.authority.length, 8);
  head.writeUInt16BE(m.additional.length, 10);
  const parts: Buffer[] = [head];
  for (const q of m.questions) {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(q.type, 0);
    t.writeUInt16BE(q.class, 2);
    parts.push(encodeName(q.name), t);
  }
  for (const r of [...m.answers, ...m.authority, ...m.additional]) parts.push(encodeRecord(r));
  return Buffer.concat(parts);
}

/** An answer over UDP longer than 512 bytes (no EDNS0 honoured) is cut to its header and question, TC set. */
export function truncateForUdp(m: Message, limit = 512): Buffer {
  const full = encodeMessage(m);
  if (full.length <= limit) return full;
  return encodeMessage({ ...m, tc: true, answers: [], authority: [], additional: [] });
}
