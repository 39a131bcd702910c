/**
 * Evaluating and validating the variables kprov understands, one host at a time. Each variable
 * crosses its own zod schema so an error names the file and line where its winning value was
 * defined, what was found and what is expected.
 */
import path from 'node:path';
import { KprovError, formatLocation, type SourceLocation } from '../errors.js';
import { ExpressionError, type Evaluator, type ExpressionFailure, type VarDef } from './evaluator.js';
import { migrationHint } from './migration-hints.js';
import { DEFAULTS, hostVarsSchema, type HostVars, type KnownVariable } from './schema.js';

/** A value as a message shows it: strings quoted, long values shortened. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** Where a value came from, for messages: `group_vars/all/all.yml:3`, or kprov's default. */
export function describeOrigin(def: VarDef | undefined, inventoryDir: string): string {
  if (!def?.location) return "kprov's default";
  const rel = path.relative(inventoryDir, def.location.file);
  const file = rel.startsWith('..') || path.isAbsolute(rel) ? def.location.file : rel;
  return formatLocation({ file, ...(def.location.line === undefined ? {} : { line: def.location.line }) });
}

/** The KprovError for an expression kprov needs but cannot evaluate. */
export function expressionKprovError(err: ExpressionError, wanted: string, host: string): KprovError {
  const f: ExpressionFailure = err.failure;
  const failing = f.path[f.path.length - 1] ?? wanted;
  const via = failing === wanted ? wanted : `${wanted} (through ${f.path.slice(1).join(' → ')})`;
  const message = f.reason.startsWith('variable cycle')
    ? f.reason.includes(` ${wanted} `) || f.reason.endsWith(` ${wanted}`)
      ? f.reason
      : `${f.reason} (needed for ${wanted})`
    : `cannot evaluate ${via}: ${JSON.stringify(f.expression)}: ${f.reason}`;
  return new KprovError('inventory', message, {
    ...(f.location ? { location: f.location } : {}),
    host,
    hint: f.location ? undefined : `the value comes from kprov's default for ${failing}`,
  });
}

function valueAt(value: unknown, keys: readonly PropertyKey[]): unknown {
  let v = value;
  for (const k of keys) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** Evaluates one known variable for a host and checks it against its schema. */
export function parseKnownVariable(
  evaluator: Evaluator,
  host: string,
  key: KnownVariable,
  def: VarDef | undefined,
): unknown {
  let raw: unknown;
  try {
    raw = evaluator.value(host, key);
  } catch (err) {
    if (err instanceof ExpressionError) throw expressionKprovError(err, key, host);
    throw err;
  }
  // Kubespray's sample lets hosts outside etcd write `etcd_member_name=` (empty): the default applies.
  if (key === 'etcd_member_name' && raw === '') raw = host;
  const schema = hostVarsSchema.shape[key];
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length > 0 ? `${key}.${issue.path.map(String).join('.')}` : key;
  const found = valueAt(raw, issue.path);
  const fromDefault = def?.location === undefined;
  const location: SourceLocation | undefined = def?.location;
  const hint =
    migrationHint(key, found) ??
    (fromDefault && DEFAULTS[key] !== undefined ? `this is kprov's default for ${key} (${showValue(DEFAULTS[key])}); check the variables it uses` : undefined);
  return failWith(
    new KprovError('inventory', `${where}: found ${showValue(found)}, expected ${issue.message}`, {
      ...(location ? { location } : {}),
      host,
      ...(hint ? { hint } : {}),
    }),
  );
}

function failWith(err: KprovError): never {
  throw err;
}

/**
 * All known variables of one host, evaluated and validated. A variable that fails is added to
 * `errors` and the others are still checked, so one run reports every bad value.
 */
export function parseHostVars(evaluator: Evaluator, host: string, defs: ReadonlyMap<string, VarDef>, errors: KprovError[]): HostVars {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(hostVarsSchema.shape) as KnownVariable[]) {
    try {
      const value = parseKnownVariable(evaluator, host, key, defs.get(key));
      if (value !== undefined) out[key] = value;
    } catch (err) {
      if (!(err instanceof KprovError)) throw err;
      errors.push(err);
    }
  }
  // Without errors every key crossed its schema above; the object as a whole is what the schema describes.
  return out as HostVars;
}

/**
 * The errors of every host as the user should read them: one per place (a bad value
 * in group_vars/all fails on every host, but is one mistake), in file order. Errors about kprov's
 * own defaults are usually consequences of a bad value they use (dns_domain of cluster_name), so
 * they are shown only when nothing the inventory wrote is wrong.
 */
export function distinctErrors(errors: readonly KprovError[]): KprovError[] {
  const byProblem = new Map<string, { error: KprovError; hosts: string[] }>();
  for (const e of errors) {
    // One value per place: a second error at the same place is a consequence (kube_dns_server of
    // a broken skydns_server), not another mistake to fix.
    const key = e.location ? formatLocation(e.location) : e.message;
    const seen = byProblem.get(key);
    if (seen) {
      if (e.host !== undefined && !seen.hosts.includes(e.host)) seen.hosts.push(e.host);
    } else {
      byProblem.set(key, { error: e, hosts: e.host === undefined ? [] : [e.host] });
    }
  }
  const all = [...byProblem.values()];
  const written = all.filter((p) => p.error.location !== undefined);
  const shown = written.length > 0 ? written : all;
  shown.sort((a, b) => compareLocations(a.error.location, b.error.location));
  return shown.map(({ error, hosts }) => {
    if (hosts.length <= 1) return error;
    const host = hosts.length <= 3 ? hosts.join(', ') : `${hosts.slice(0, 2).join(', ')} and ${hosts.length - 2} more hosts`;
    return new KprovError(error.code, error.message, {
      ...(error.location ? { location: error.location } : {}),
      host,
      ...(error.hint ? { hint: error.hint } : {}),
      exitCode: error.exitCode,
    });
  });
}

function compareLocations(a: SourceLocation | undefined, b: SourceLocation | undefined): number {
  if (!a || !b) return Number(!a) - Number(!b);
  return a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
}
