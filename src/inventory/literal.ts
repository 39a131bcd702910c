/**
 * How Ansible types INI values. Inline host values (`node1 ansible_port=22`) go through Python's
 * ast.literal_eval: numbers, True/False/None, quoted strings, lists and dicts become those types,
 * anything else stays a string. `:vars` values stay strings (see ini-tokenize.ts).
 */
import { parse as parseYaml } from 'yaml';

const INT = /^[-+]?(?:0|[1-9](?:_?\d)*)$/;
const RADIX_INT = /^[-+]?0(?:[xX](?:_?[0-9a-fA-F])+|[oO](?:_?[0-7])+|[bB](?:_?[01])+)$/;
const FLOAT = /^[-+]?(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][-+]?\d(?:_?\d)*)?$/;

/**
 * The value Ansible gives an inline host variable. Beyond Python's literals, lower-case
 * `true`/`false` are booleans too: kprov treats them as such everywhere.
 */
export function parseInlineLiteral(text: string): unknown {
  const s = text.trim();
  if (s === 'True' || s === 'true') return true;
  if (s === 'False' || s === 'false') return false;
  if (s === 'None') return null;
  if (INT.test(s)) return safeNumber(Number(s.replace(/_/g, '')), s);
  if (RADIX_INT.test(s)) {
    const negative = s.startsWith('-');
    const body = s.replace(/^[-+]/, '').replace(/_/g, '');
    const n = Number(body);
    return safeNumber(negative ? -n : n, s);
  }
  // A float needs a point or an exponent: Python reads 010 as neither int nor float.
  if (FLOAT.test(s) && /\d/.test(s) && /[.eE]/.test(s)) return Number(s.replace(/_/g, ''));
  if (s.length >= 2 && (s[0] === "'" || s[0] === '"') && s.endsWith(s[0]!)) {
    return s.slice(1, -1);
  }
  if (s.startsWith('[') || s.startsWith('{')) {
    const structured = parseFlowLiteral(s);
    if (structured !== undefined) return structured;
  }
  return text;
}

/** Integers beyond 2^53 would lose digits as numbers: keep their text. */
function safeNumber(n: number, text: string): number | string {
  return Number.isSafeInteger(n) ? n : text;
}

/**
 * A Python list/dict literal (`['a', 'b']`, `{'k': 1}`) read as YAML flow syntax, which
 * covers what inventories write; undefined when it is not one.
 */
export function parseFlowLiteral(text: string): unknown[] | Record<string, unknown> | undefined {
  try {
    const value: unknown = parseYaml(text.replace(/\bNone\b/g, 'null'), { version: '1.1' });
    if (Array.isArray(value)) return value;
    if (value !== null && typeof value === 'object') return value as Record<string, unknown>;
  } catch {
    // Not a literal: the caller keeps the text.
  }
  return undefined;
}

const TRUE_WORDS = new Set(['yes', 'on', '1', 'true', 'y', 't']);
const FALSE_WORDS = new Set(['no', 'off', '0', 'false', 'n', 'f', '']);

/**
 * Ansible's boolean(): `yes/on/1/true` and `no/off/0/false` in any case; undefined when the
 * value is neither (so a schema can report it).
 */
export function parseAnsibleBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value !== 'string') return undefined;
  const s = value.trim().toLowerCase();
  if (TRUE_WORDS.has(s)) return true;
  if (FALSE_WORDS.has(s)) return false;
  return undefined;
}

/** Python's truth value: empty strings, lists, dicts, 0, None and False are false. */
export function pythonTruthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'string') return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}
