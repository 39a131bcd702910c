/**
 * Host patterns in INI group sections: `node1`, `node1:2222` (a port), and ranges as Ansible
 * expands them: `node[01:20]` (zero-padded like its bounds), `node[a:c]`, `node[1:20:2]` (a
 * stride), `node[:3]` (from 0), several ranges in one name.
 */

/** Thrown with the column (1-based, within the pattern) where the problem is. */
export class HostPatternError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export interface HostPattern {
  names: string[];
  port?: number;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const HOST_NAME_CHARS = /^[A-Za-z0-9_.-]+$/;
/** No inventory needs more; a typo like [1:100000] should not exhaust memory. */
const MAX_HOSTS_PER_PATTERN = 10_000;

/** Expands a host pattern into host names (and the port, when `name:port` is given). */
export function expandHostPattern(pattern: string): HostPattern {
  let body = pattern;
  let port: number | undefined;
  const colon = portColon(pattern);
  if (colon >= 0) {
    const digits = pattern.slice(colon + 1);
    if (!/^\d+$/.test(digits)) {
      throw new HostPatternError(`bad port "${digits}" after "${pattern.slice(0, colon)}:"; expected a number`, colon + 1);
    }
    body = pattern.slice(0, colon);
    port = Number(digits);
    if (port < 1 || port > 65535) throw new HostPatternError(`port ${digits} is out of range; expected 1-65535`, colon + 1);
  }
  const names = expandRanges(body, 0);
  for (const name of names) {
    if (!HOST_NAME_CHARS.test(name)) {
      const bad = [...name].findIndex((c) => !/[A-Za-z0-9_.-]/.test(c));
      const ch = name[bad] ?? '';
      throw new HostPatternError(
        `invalid host name "${name}": "${ch}" is not allowed; expected letters, digits, ".", "-" and "_"` +
          (ch === ',' ? ' (list one host per line)' : ''),
        Math.max(0, pattern.indexOf(ch)),
      );
    }
  }
  return port === undefined ? { names } : { names, port };
}

/** Index of the `:` that separates a port (one outside any `[…]` range), else -1. */
function portColon(pattern: string): number {
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    else if (c === ':' && depth === 0) return i;
  }
  return -1;
}

function expandRanges(pattern: string, baseOffset: number): string[] {
  const open = pattern.indexOf('[');
  const close = pattern.indexOf(']');
  if (open < 0) {
    if (close >= 0) throw new HostPatternError('"]" without a matching "["', baseOffset + close);
    return [pattern];
  }
  const end = pattern.indexOf(']', open);
  if (end < 0) throw new HostPatternError('"[" without a matching "]"', baseOffset + open);
  const head = pattern.slice(0, open);
  const spec = pattern.slice(open + 1, end);
  const tails = expandRanges(pattern.slice(end + 1), baseOffset + end + 1);
  const out: string[] = [];
  for (const item of expandSpec(spec, baseOffset + open)) {
    for (const tail of tails) {
      out.push(head + item + tail);
      if (out.length > MAX_HOSTS_PER_PATTERN) {
        throw new HostPatternError(`range expands to more than ${MAX_HOSTS_PER_PATTERN} hosts`, baseOffset + open);
      }
    }
  }
  return out;
}

/** `01:20`, `a:c`, `1:20:2`, `:3` → the sequence, as Ansible's expand_hostname_range makes it. */
function expandSpec(spec: string, offset: number): string[] {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) {
    throw new HostPatternError(`bad range "[${spec}]"; expected [start:end] or [start:end:step], e.g. [01:20]`, offset);
  }
  const [begRaw, endRaw, stepRaw] = parts as [string, string, string | undefined];
  const beg = begRaw === '' ? '0' : begRaw;
  if (endRaw === '') throw new HostPatternError(`range "[${spec}]" has no end; expected [start:end]`, offset);
  let step = 1;
  if (stepRaw !== undefined) {
    if (!/^\d+$/.test(stepRaw) || Number(stepRaw) < 1) {
      throw new HostPatternError(`range step "${stepRaw}" must be a positive integer`, offset);
    }
    step = Number(stepRaw);
  }
  const isLetter = (s: string) => s.length === 1 && LETTERS.includes(s);
  if (isLetter(beg) && isLetter(endRaw)) {
    const from = LETTERS.indexOf(beg);
    const to = LETTERS.indexOf(endRaw);
    if (from > to) throw new HostPatternError(`range "[${spec}]" must have start <= end`, offset);
    const out: string[] = [];
    for (let i = from; i <= to; i += step) out.push(LETTERS[i]!);
    return out;
  }
  if (!/^\d+$/.test(beg) || !/^\d+$/.test(endRaw)) {
    throw new HostPatternError(
      `bad range "[${spec}]"; expected numbers ([01:20]) or single letters ([a:c])`,
      offset,
    );
  }
  // A leading zero asks for zero-padding to the width of the bounds, which must then match.
  const width = beg.length > 1 && beg.startsWith('0') ? beg.length : 0;
  if (width > 0 && endRaw.length !== width) {
    throw new HostPatternError(`range "[${spec}]": zero-padded start and end must have the same width`, offset);
  }
  const from = Number(beg);
  const to = Number(endRaw);
  if (from > to) throw new HostPatternError(`range "[${spec}]" must have start <= end`, offset);
  if ((to - from) / step + 1 > MAX_HOSTS_PER_PATTERN) {
    throw new HostPatternError(`range "[${spec}]" expands to more than ${MAX_HOSTS_PER_PATTERN} hosts`, offset);
  }
  const out: string[] = [];
  for (let i = from; i <= to; i += step) out.push(width ? String(i).padStart(width, '0') : String(i));
  return out;
}
