/**
 * Finds the Debian mirror this machine's apt already uses, so the lab never names a mirror host
 * itself. Reads deb822 `*.sources` files and one-line `deb …` entries.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../errors.js';

export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  /** Where the entry was read, for messages. */
  file: string;
}

/** Parses a deb822 sources file: stanzas separated by blank lines, `#` comments, folded fields. */
export function parseDeb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  const stanzas = text.split(/\n[ \t]*\n/);
  for (const stanza of stanzas) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      if (/^[ \t]/.test(line) && last !== undefined) {
        fields.set(last, `${fields.get(last) ?? ''} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields.set(last, m[2]!.trim());
    }
    if (fields.get('enabled')?.toLowerCase() === 'no') continue;
    const list = (key: string) => (fields.get(key) ?? '').split(/\s+/).filter((s) => s !== '');
    if (!fields.has('uris')) continue;
    out.push({ types: list('types'), uris: list('uris'), suites: list('suites'), components: list('components'), file });
  }
  return out;
}

/** Parses one-line `deb [options] URI SUITE COMPONENT…` entries. */
export function parseOneLineSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const m = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      types: [m[1]!],
      uris: [m[2]!],
      suites: [m[3]!],
      components: m[4]!.split(/\s+/).filter((s) => s !== ''),
      file,
    });
  }
  return out;
}

/** The first `deb` URI that serves exactly `suite` (so security and update archives are skipped). */
export function pickMirror(sources: readonly AptSource[], suite: string): string | undefined {
  for (const s of sources) {
    if (!s.types.includes('deb') || !s.suites.includes(suite)) continue;
    const uri = s.uris.find((u) => /^(https?|file):/.test(u));
    if (uri) return uri.replace(/\/+$/, '');
  }
  return undefined;
}

export async function readAptSources(etcApt = '/etc/apt'): Promise<AptSource[]> {
  const sources: AptSource[] = [];
  const main = path.join(etcApt, 'sources.list');
  const text = await readFile(main, 'utf8').catch(() => undefined);
  if (text !== undefined) sources.push(...parseOneLineSources(text, main));
  const dir = path.join(etcApt, 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.endsWith('.sources')) sources.push(...parseDeb822Sources(await readFile(file, 'utf8'), file));
    else if (name.endsWith('.list')) sources.push(...parseOneLineSources(await readFile(file, 'utf8'), file));
  }
  return sources;
}

/** The Debian mirror URL for `suite` from this machine's apt configuration. */
export async function findAptMirror(suite: string, etcApt = '/etc/apt'): Promise<string> {
  const mirror = pickMirror(await readAptSources(etcApt), suite);
  if (!mirror) {
    throw new KprovError('lab', `no Debian mirror for "${suite}" found in ${etcApt}/sources.list or sources.list.d`, {
      hint: `add a "deb <mirror> ${suite} main" entry (or a deb822 .sources stanza) to apt's configuration`,
    });
  }
  return mirror;
}
