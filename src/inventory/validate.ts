/**
 * Evaluating and validating the variables kprov understands, one host at a time. Each variable
 * crosses its own zod schema so an error names the file and line where its winning value was
 * defined, what was found and what is expected.
 */
import path from 'node:path';
import { KprovError, formatLocation, type SourceLocation } from '../errors.js';
import { ExpressionError, type Evaluator, type ExpressionFailure, type VarDef } from './evaluator.js';
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
  return failWith(
    new KprovError('inventory', `${where}: found ${showValue(found)}, expected ${issue.message}`, {
      ...(location ? { location } : {}),
      host,
      ...(fromDefault && DEFAULTS[key] !== undefined
        ? { hint: `this is kprov's default for ${key} (${showValue(DEFAULTS[key])}); check the variables it uses` }
        : {}),
    }),
  );
}

function failWith(err: KprovError): never {
  throw err;
}

/** All known variables of one host, evaluated and validated. */
export function parseHostVars(evaluator: Evaluator, host: string, defs: ReadonlyMap<string, VarDef>): HostVars {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(hostVarsSchema.shape) as KnownVariable[]) {
    const value = parseKnownVariable(evaluator, host, key, defs.get(key));
    if (value !== undefined) out[key] = value;
  }
  // Every key crossed its schema above; the object as a whole is what the schema describes.
  return out as HostVars;
}
