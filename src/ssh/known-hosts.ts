/**
 * Host key pinning in an OpenSSH known_hosts file, so `ssh -o UserKnownHostsFile=<file>` trusts
 * exactly the keys kprov trusts. Reads plain and hashed (`|1|salt|hmac`) entries, host patterns
 * with wildcards and negation, `[host]:port`, and the @revoked marker; writes plain entries.
 */
import { createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { keyTypeOfBlob } from './fingerprint.js';

export interface KnownHostEntry {
  /** 1-based line number in the file, for messages. */
  line: number;
  marker: 'revoked' | 'cert-authority' | undefined;
  /** Plain patterns (comma list as written) or a hashed host. */
  hosts: { kind: 'patterns'; patterns: string[] } | { kind: 'hashed'; salt: Buffer; hash: Buffer };
  keyType: string;
  /** The key blob, base64 as written. */
  key: string;
}

/** The name OpenSSH looks up for a host: the address, bracketed with the port unless it is 22. */
export function knownHostsName(address: string, port: number): string {
  const host = address.toLowerCase();
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Parses a known_hosts file. Lines that are not entries (comments, garbage) are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const name = fields.shift();
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else continue;
    }
    const [hostField, keyType, key] = fields;
    if (hostField === undefined || keyType === undefined || key === undefined) continue;
    const hosts = parseHostField(hostField);
    if (!hosts) continue;
    entries.push({ line: i + 1, marker, hosts, keyType, key });
  }
  return entries;
}

function parseHostField(field: string): KnownHostEntry['hosts'] | undefined {
  if (field.startsWith('|1|')) {
    const [salt, hash] = field.slice(3).split('|');
    if (!salt || !hash) return undefined;
    return { kind: 'hashed', salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  }
  if (field.startsWith('|')) return undefined; // an unknown hash format
  return { kind: 'patterns', patterns: field.split(',').filter((p) => p !== '') };
}

/** OpenSSH's glob: `*` any run, `?` any one character, case-insensitive. */
function globMatches(pattern: string, name: string): boolean {
  const source = pattern
    .toLowerCase()
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 's').test(name);
}

/** Whether an entry's host field names `name` (as built by knownHostsName). */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.hosts.kind === 'hashed') {
    const mac = createHmac('sha1', entry.hosts.salt).update(name).digest();
    return mac.equals(entry.hosts.hash);
  }
  let matched = false;
  for (const pattern of entry.hosts.patterns) {
    const negated = pattern.startsWith('!');
    if (globMatches(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false; // a matching negation rules the entry out entirely
      matched = true;
    }
  }
  return matched;
}

/** A known_hosts line for a key, in the plain form OpenSSH writes with HashKnownHosts=no. */
export function formatKnownHostsLine(name: string, blob: Buffer): string {
  return `${name} ${keyTypeOfBlob(blob)} ${blob.toString('base64')}`;
}

export type HostKeyVerdict =
  /** An entry pins exactly this key. */
  | { kind: 'trusted' }
  /** No entry names this host: trust on first use. */
  | { kind: 'unknown' }
  /** Entries name this host with other keys: refuse. */
  | { kind: 'changed'; pinned: KnownHostEntry[] }
  /** The key is marked @revoked. */
  | { kind: 'revoked'; entry: KnownHostEntry };

/** Judges a presented host key against a file's entries, as OpenSSH's StrictHostKeyChecking does. */
export function verdictFor(entries: readonly KnownHostEntry[], name: string, blob: Buffer): HostKeyVerdict {
  const pinned: KnownHostEntry[] = [];
  for (const entry of entries) {
    if (entry.marker === 'cert-authority' || !entryMatches(entry, name)) continue;
    const same = Buffer.from(entry.key, 'base64').equals(blob);
    if (entry.marker === 'revoked') {
      if (same) return { kind: 'revoked', entry };
      continue;
    }
    if (same) return { kind: 'trusted' };
    pinned.push(entry);
  }
  return pinned.length > 0 ? { kind: 'changed', pinned } : { kind: 'unknown' };
}

/** Host key types the file already holds for a host, so negotiation can prefer them as OpenSSH does. */
export function pinnedKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  const types = new Set<string>();
  for (const e of entries) if (e.marker === undefined && entryMatches(e, name)) types.add(e.keyType);
  return [...types];
}

/**
 * One known_hosts file. Reads lazily, keeps entries in memory, and appends new ones through a
 * single in-process queue so concurrent first connections to many hosts never lose a line; each
 * append is one O_APPEND write of a whole line, which other processes cannot tear.
 */
export class KnownHostsFile {
  private entries: KnownHostEntry[] | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  /** Current entries (read once, then kept up to date by trust()). */
  async load(): Promise<readonly KnownHostEntry[]> {
    if (!this.entries) this.entries = parseKnownHosts(await readTextIfExists(this.file));
    return this.entries;
  }

  /**
   * Pins a key for a host unless the file (re-read now: another process may have written it)
   * already decides about it. Returns the verdict that was in force before pinning.
   */
  trust(name: string, blob: Buffer): Promise<HostKeyVerdict> {
    const task = this.queue.then(async () => {
      const text = await readTextIfExists(this.file);
      this.entries = parseKnownHosts(text);
      const verdict = verdictFor(this.entries, name, blob);
      if (verdict.kind !== 'unknown') return verdict;
      await mkdir(path.dirname(this.file), { recursive: true });
      const line = formatKnownHostsLine(name, blob);
      const prefix = text === '' || text.endsWith('\n') ? '' : '\n';
      await appendFile(this.file, `${prefix}${line}\n`, { mode: 0o644 });
      this.entries = parseKnownHosts(text + prefix + line + '\n');
      return verdict;
    });
    this.queue = task.catch(() => undefined);
    return task;
  }
}

async function readTextIfExists(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}
