/**
 * Playbook files (`playbooks/*.yml`): an ordered list of plays, each mapping a host pattern to
 * roles. Validated once here; the rest of the engine trusts the Playbook type.
 * The format is documented in playbooks/README.md.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { KprovError, type SourceLocation } from '../errors.js';
import { describePath, locate, parseYamlSource, validateYaml } from './yaml-source.js';

export interface PlayRole {
  name: string;
  tags: string[];
  location: SourceLocation;
}

/**
 * `serial`: hosts per batch, as a count or a percentage of the play's hosts, or a variable that
 * gives one (Kubespray's `serial: "{{ serial | default(1) }}"`), resolved when the run is planned.
 */
export type Serial = { count: number } | { percent: number } | { variable: string; fallback?: string };

export interface Play {
  name: string;
  hosts: string;
  roles: PlayRole[];
  tags: string[];
  serial: Serial | undefined;
  /** A failure of any host in this play stops the play's other hosts and the playbook. */
  anyErrorsFatal: boolean;
  /**
   * The share of the play's hosts (in percent) that may have failed — in this play or earlier in
   * the run — before the playbook stops; 0: the play needs every one of its hosts.
   */
  maxFailPercentage: number | undefined;
  gatherFacts: boolean;
  /**
   * A variable that confirms this play (Kubespray's reset_confirmation): unless it is yes, the
   * run asks before the play touches its hosts, and refuses without a terminal to ask.
   */
  confirm: string | undefined;
  /**
   * Ansible's ignore_unreachable: a host that cannot be reached in this play is reported as
   * skipped with a warning, not as a failure (remove-node's steps on a dead node).
   */
  ignoreUnreachable: boolean;
  /**
   * A host pattern: the play's hosts it selects run the play even when --limit leaves them out
   * (scale.yml: every node needs a route to a new node's pods, whatever the limit).
   */
  beyondLimit: string | undefined;
  location: SourceLocation;
  hostsLocation: SourceLocation;
  beyondLimitLocation: SourceLocation | undefined;
  serialLocation?: SourceLocation;
}

export interface Playbook {
  file: string;
  plays: Play[];
}

const tagName = z
  .string()
  .regex(/^[A-Za-z0-9_.@-]+$/, 'a tag is letters, digits, "_", ".", "-" or "@"');

// Ansible accepts a list or a comma-separated string.
const tagsSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((t) => t.trim()).filter((t) => t !== ''))
  .pipe(z.array(tagName));

const roleName = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'a role name is lower-case letters, digits, "_" or "-"');

const roleEntrySchema = z.union([roleName, z.strictObject({ role: roleName, tags: tagsSchema.optional() })]);

const hostsSchema = z
  .union([z.string().trim().min(1), z.array(z.string().trim().min(1)).min(1)])
  .transform((v) => (Array.isArray(v) ? v.join(':') : v));

export const SERIAL_EXPRESSION = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*default\(\s*(?:(['"])(.*?)\2|([0-9]+))\s*\)\s*)?\}\}$/;

const serialSchema = z.union([
  z.number().int().positive(),
  z
    .string()
    .trim()
    .refine((v) => /^(100|[1-9][0-9]?)%$/.test(v) || SERIAL_EXPRESSION.test(v), 'serial is a host count, a percentage such as "30%", or "{{ variable | default(1) }}"'),
]);

/** A validated `serial:` value as the Serial it stands for. */
export function parseSerial(v: number | string): Serial {
  if (typeof v === 'number') return { count: v };
  const m = SERIAL_EXPRESSION.exec(v.trim());
  if (m) {
    const fallback = m[3] ?? m[4];
    return { variable: m[1]!, ...(fallback !== undefined ? { fallback } : {}) };
  }
  return { percent: Number.parseInt(v, 10) };
}

const playSchema = z.strictObject({
  name: z.string().trim().min(1),
  hosts: hostsSchema,
  roles: z.array(roleEntrySchema).min(1),
  tags: tagsSchema.optional(),
  serial: serialSchema.optional(),
  any_errors_fatal: z.boolean().optional(),
  max_fail_percentage: z.number().min(0, 'max_fail_percentage is from 0 to 100').max(100, 'max_fail_percentage is from 0 to 100').optional(),
  gather_facts: z.boolean().optional(),
  confirm: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'confirm names a variable, such as reset_confirmation').optional(),
  ignore_unreachable: z.boolean().optional(),
  beyond_limit: hostsSchema.optional(),
});

const playbookSchema = z.array(playSchema).min(1, 'a playbook is a non-empty list of plays');

/** Parses and validates playbook text; `file` is used in error locations. */
export function parsePlaybook(text: string, file: string): Playbook {
  const source = parseYamlSource(text, file);
  if (source.doc.contents === null) {
    throw new KprovError('config', 'playbook is empty', {
      location: { file },
      hint: 'a playbook is a list of plays, each with name, hosts and roles (see playbooks/README.md)',
    });
  }
  const raw = validateYaml(source, playbookSchema, 'playbook', describePlayPath);
  const plays = raw.map((p, i): Play => {
    const roles = p.roles.map((r, j): PlayRole => {
      const location = locate(source, [i, 'roles', j]);
      return typeof r === 'string' ? { name: r, tags: [], location } : { name: r.role, tags: r.tags ?? [], location };
    });
    return {
      name: p.name,
      hosts: p.hosts,
      roles,
      tags: p.tags ?? [],
      serial: p.serial === undefined ? undefined : parseSerial(p.serial),
      anyErrorsFatal: p.any_errors_fatal ?? false,
      maxFailPercentage: p.max_fail_percentage,
      gatherFacts: p.gather_facts ?? false,
      confirm: p.confirm,
      ignoreUnreachable: p.ignore_unreachable ?? false,
      beyondLimit: p.beyond_limit,
      location: locate(source, [i]),
      hostsLocation: locate(source, [i, 'hosts']),
      beyondLimitLocation: p.beyond_limit === undefined ? undefined : locate(source, [i, 'beyond_limit']),
      ...(p.serial !== undefined ? { serialLocation: locate(source, [i, 'serial']) } : {}),
    };
  });
  const seen = new Map<string, number>();
  plays.forEach((p, i) => {
    const before = seen.get(p.name);
    if (before !== undefined) {
      throw new KprovError('config', `playbook: play name "${p.name}" is used twice (plays ${before + 1} and ${i + 1})`, {
        location: p.location,
        hint: 'play names identify plays in progress output and run logs; make them unique',
      });
    }
    seen.set(p.name, i);
  });
  return { file, plays };
}

function describePlayPath(p: readonly PropertyKey[]): string {
  if (typeof p[0] !== 'number') return describePath(p);
  const rest = describePath(p.slice(1));
  return `play ${p[0] + 1}${rest ? ` ${rest}` : ''}`;
}

export async function loadPlaybook(file: string): Promise<Playbook> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KprovError('io', code === 'ENOENT' ? `playbook ${file} does not exist` : `cannot read playbook ${file}: ${(err as Error).message}`, {
      location: { file },
    });
  }
  return parsePlaybook(text, file);
}

/**
 * `cluster` → `<playbooksDir>/cluster.yml`; anything with a slash or a .yml/.yaml suffix is a path
 * (relative to `cwd`).
 */
export async function resolvePlaybookPath(nameOrPath: string, playbooksDir: string, cwd: string): Promise<string> {
  if (nameOrPath.includes('/')) return path.resolve(cwd, nameOrPath);
  // `cluster.yml` as a Kubespray user types it: a file here if there is one, else kprov's playbook.
  if (/\.ya?ml$/.test(nameOrPath)) {
    const local = path.resolve(cwd, nameOrPath);
    if (await exists(local)) return local;
    const available = await listPlaybooks(playbooksDir);
    if (available.includes(nameOrPath)) return path.join(playbooksDir, nameOrPath);
    return local;
  }
  const available = await listPlaybooks(playbooksDir);
  for (const ext of ['.yml', '.yaml']) {
    if (available.includes(`${nameOrPath}${ext}`)) return path.join(playbooksDir, `${nameOrPath}${ext}`);
  }
  const names = available.map((f) => f.replace(/\.ya?ml$/, ''));
  throw new KprovError('usage', `no playbook named "${nameOrPath}"`, {
    hint: names.length > 0 ? `available: ${names.join(', ')} (or give a path to a .yml file)` : `no playbooks in ${playbooksDir}`,
  });
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function listPlaybooks(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch {
    return [];
  }
}
