/**
 * `ansible_ssh_private_key_file` checked before any host is contacted: the file must exist, be a
 * readable regular file and hold an SSH private key. Otherwise the login would silently skip it
 * and fail later with "all authentication methods failed". Problems name the file and line where
 * the variable was set; one setting shared by many hosts (group_vars/all) is reported once.
 */
import { readFile, stat } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { KprovError, type SourceLocation } from '../errors.js';
import type { Inventory } from '../inventory/load.js';
import type { InventoryWarning } from '../inventory/model.js';
import { resolveKeyPath } from './host-config.js';

const KEY_VARIABLE = 'ansible_ssh_private_key_file';
/** Private keys are a few KiB (RSA 16384 is about 12 KiB): anything far larger is not one. */
const MAX_KEY_BYTES = 1024 * 1024;
const EXPECTED = 'expected a readable SSH private key file';

/** One place the inventory sets the key file, and the hosts that get it from there. */
interface KeySetting {
  /** As written (after expressions), and as kprov resolves it. */
  value: string;
  path: string;
  location: SourceLocation | undefined;
  variable: string;
  hosts: string[];
}

type Verdict =
  | { kind: 'ok'; mode: number }
  | { kind: 'encrypted'; mode: number }
  | { kind: 'bad'; problem: string; hint?: string };

export interface KeyFileReport {
  errors: KprovError[];
  warnings: InventoryWarning[];
}

function settingsOf(inv: Inventory): KeySetting[] {
  const byPlace = new Map<string, KeySetting>();
  for (const host of inv.hosts) {
    const value = inv.hostVars(host.name).ansible_ssh_private_key_file;
    if (value === undefined || value.trim() === '') continue;
    const where = inv.definedAt(host.name, KEY_VARIABLE);
    const path = resolveKeyPath(value.trim(), inv.dir);
    const key = `${where ? `${where.location.file}:${where.location.line ?? ''}` : ''}\0${path}`;
    const known = byPlace.get(key);
    if (known) known.hosts.push(host.name);
    else byPlace.set(key, { value, path, location: where?.location, variable: where?.variable ?? KEY_VARIABLE, hosts: [host.name] });
  }
  return [...byPlace.values()];
}

async function judge(path: string): Promise<Verdict> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'bad', problem: 'does not exist' };
    return { kind: 'bad', problem: `cannot be read (${code ?? (err as Error).message})` };
  }
  if (st.isDirectory()) return { kind: 'bad', problem: 'is a directory, not a key file' };
  if (!st.isFile()) return { kind: 'bad', problem: 'is not a regular file' };
  if (st.size > MAX_KEY_BYTES) return { kind: 'bad', problem: `is ${st.size} bytes, far too large for an SSH private key` };
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    return { kind: 'bad', problem: `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  const parsed = ssh2.utils.parseKey(data);
  if (parsed instanceof Error) {
    // ssh2 recognises an encrypted key before it would need the passphrase: it is a key.
    if (/encrypted/i.test(parsed.message) && /passphrase/i.test(parsed.message)) return { kind: 'encrypted', mode: st.mode };
    return { kind: 'bad', problem: `is not an SSH private key (${parsed.message})` };
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) {
    return {
      kind: 'bad',
      problem: 'holds a public key, not the private one',
      hint: path.endsWith('.pub') ? `name the private key: ${path.slice(0, -4)}` : 'name the private key file (the one without .pub)',
    };
  }
  return { kind: 'ok', mode: st.mode };
}

function forHosts(s: KeySetting): string {
  return s.hosts.length === 1 ? `host ${s.hosts[0]}` : `hosts ${s.hosts.join(', ')}`;
}

/** `"keys/id" (/inv/keys/id)` when the two differ (relative, or `~`), else the path once. */
function shown(s: KeySetting): string {
  return s.value === s.path ? s.path : `"${s.value}" (${s.path})`;
}

/**
 * Checks every key file the inventory names. Errors are inventory errors (exit 2) located where the
 * variable was set; warnings: a key encrypted with a passphrase (kprov cannot ask for one) and a
 * mode that lets others than the owner at it (OpenSSH refuses such a key).
 */
export async function checkKeyFiles(inv: Inventory): Promise<KeyFileReport> {
  const report: KeyFileReport = { errors: [], warnings: [] };
  const verdicts = new Map<string, Promise<Verdict>>();
  for (const s of settingsOf(inv)) {
    let verdict = verdicts.get(s.path);
    if (!verdict) verdicts.set(s.path, (verdict = judge(s.path)));
    const v = await verdict;
    const located = s.location ? { location: s.location } : {};
    if (v.kind === 'bad') {
      report.errors.push(
        new KprovError('inventory', `${s.variable}: ${shown(s)} ${v.problem}; ${EXPECTED}`, {
          ...located,
          ...(s.hosts.length === 1 ? { host: s.hosts[0]! } : {}),
          hint: v.hint ?? `set for ${forHosts(s)}${s.value === s.path ? '' : '; a relative path is taken from the inventory directory'}`,
        }),
      );
      continue;
    }
    if (v.kind === 'encrypted') {
      report.warnings.push({
        code: 'key-file',
        ...located,
        message: `${s.variable}: ${s.path} is encrypted with a passphrase, which kprov cannot ask for, so it will not log in with it; add it to an ssh-agent (ssh-add ${s.path}): kprov uses $SSH_AUTH_SOCK`,
      });
    }
    if ((v.mode & 0o077) !== 0) {
      const mode = (v.mode & 0o777).toString(8).padStart(4, '0');
      report.warnings.push({
        code: 'key-file',
        ...located,
        message: `${s.variable}: ${s.path} has mode ${mode}: group or others can access it, and OpenSSH refuses such a key (chmod 600 ${s.path})`,
      });
    }
  }
  return report;
}

/** For commands that need working logins (apply): the first key file error, saying if there are more. */
export async function requireKeyFiles(inv: Inventory): Promise<InventoryWarning[]> {
  const { errors, warnings } = await checkKeyFiles(inv);
  const first = errors[0];
  if (!first) return warnings;
  if (errors.length === 1) throw first;
  throw new KprovError(first.code, first.message, {
    ...(first.location ? { location: first.location } : {}),
    ...(first.host ? { host: first.host } : {}),
    hint: `${errors.length - 1} more key file problem(s); kprov inventory check -i ${inv.dir} lists them all`,
  });
}
