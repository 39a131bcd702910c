/**
 * The Jinja/Ansible filters and tests Kubespray's group_vars use, for nunjucks. Values follow
 * Python's rules where they differ from JavaScript's (truthiness, str() of booleans, int()).
 * `guard` is told when `default` or `is defined` handles an undefined value, so the evaluator
 * can tell a guarded undefined variable from an unguarded one.
 */
import type nunjucks from 'nunjucks';
import { ipaddr, ipwrap } from './ipaddr.js';
import { parseFlowLiteral, pythonTruthy } from './literal.js';

export class FilterError extends Error {}

export interface FilterHooks {
  guard(): void;
}

type Fn = (...args: unknown[]) => unknown;

/** nunjucks passes keyword arguments as a trailing object marked `__keywords`. */
function splitKeywords(args: unknown[]): { positional: unknown[]; keywords: Record<string, unknown> } {
  const last = args[args.length - 1];
  if (last !== null && typeof last === 'object' && (last as { __keywords?: boolean }).__keywords) {
    const { __keywords: _ignored, ...keywords } = last as Record<string, unknown>;
    return { positional: args.slice(0, -1), keywords };
  }
  return { positional: args, keywords: {} };
}

/** Python's str() for the values inventories hold. */
export function pyStr(value: unknown): string {
  if (value === undefined || value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

function pyRepr(value: unknown): string {
  return typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : pyStr(value);
}

function toInt(value: unknown, fallback: unknown = 0, base: unknown = 10): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : fallback;
  if (typeof value === 'string') {
    const s = value.trim().replace(/_/g, '');
    const b = Number(base);
    if (b === 10 && /^[-+]?\d+$/.test(s)) return Number(s);
    if (b !== 10) {
      const body = s.replace(/^[-+]?0[xob]/i, (m) => m.replace(/0[xob]/i, ''));
      const n = parseInt(body, b);
      if (!Number.isNaN(n) && new RegExp(`^[-+]?[0-9a-z]+$`, 'i').test(body)) return n;
    }
    const f = Number(s);
    if (s !== '' && Number.isFinite(f)) return Math.trunc(f);
  }
  return fallback;
}

function toFloat(value: unknown, fallback: unknown = 0): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value.trim()))) return Number(value.trim());
  return fallback;
}

function length(value: unknown): number {
  if (typeof value === 'string' || Array.isArray(value)) return value.length;
  if (value !== null && typeof value === 'object') return Object.keys(value).length;
  throw new FilterError(`length: object of type ${typeof value} has no len()`);
}

/** Python `re` syntax to JavaScript: named groups and the replacement's group references. */
function pyRegex(pattern: string, flags: string): RegExp {
  try {
    return new RegExp(pattern.replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>').replace(/\(\?P=([A-Za-z_]\w*)\)/g, '\\k<$1>'), flags);
  } catch (err) {
    throw new FilterError(`invalid regular expression "${pattern}": ${err instanceof Error ? err.message : String(err)}`);
  }
}

function pyReplacement(replacement: string): string {
  return replacement
    .replace(/\$/g, '$$$$')
    .replace(/\\g<(\d+)>/g, '$$$1')
    .replace(/\\g<([A-Za-z_]\w*)>/g, '$$<$1>')
    .replace(/\\(\d{1,2})/g, '$$$1')
    .replace(/\\n/g, '\n')
    .replace(/\\t/g, '\t')
    .replace(/\\\\/g, '\\');
}

function compareVersions(a: string, b: string): number {
  const split = (v: string) => v.replace(/^v/, '').split(/[.+-]/);
  const pa = split(a);
  const pb = split(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c < 0 ? -1 : 1;
  }
  return 0;
}

function versionTest(value: unknown, other: unknown, op: unknown = 'eq'): boolean {
  const c = compareVersions(pyStr(value), pyStr(other));
  switch (String(op)) {
    case '<':
    case 'lt':
      return c < 0;
    case '<=':
    case 'le':
      return c <= 0;
    case '>':
    case 'gt':
      return c > 0;
    case '>=':
    case 'ge':
      return c >= 0;
    case '==':
    case '=':
    case 'eq':
      return c === 0;
    case '!=':
    case '<>':
    case 'ne':
      return c !== 0;
    default:
      throw new FilterError(`version: invalid operator "${String(op)}"`);
  }
}

export function installFilters(env: nunjucks.Environment, hooks: FilterHooks): void {
  const filters: Record<string, Fn> = {
    default: (value, fallback = '', boolean = false) => {
      if (value === undefined) {
        hooks.guard();
        return fallback;
      }
      return pythonTruthy(boolean) && !pythonTruthy(value) ? fallback : value;
    },
    bool: (value) => {
      if (value === null || value === undefined || typeof value === 'boolean') return value;
      if (typeof value === 'string') return ['yes', 'on', '1', 'true'].includes(value.trim().toLowerCase());
      return value === 1;
    },
    int: (value, fallback = 0, base = 10) => toInt(value, fallback, base),
    float: (value, fallback = 0) => toFloat(value, fallback),
    string: (value) => pyStr(value),
    lower: (value) => pyStr(value).toLowerCase(),
    upper: (value) => pyStr(value).toUpperCase(),
    trim: (value) => pyStr(value).trim(),
    replace: (value, old, replacement, count) => {
      const s = pyStr(value);
      const from = pyStr(old);
      const to = pyStr(replacement);
      if (count === undefined || count === null) return s.split(from).join(to);
      let out = s;
      let n = Number(count);
      let at = 0;
      while (n-- > 0) {
        const i = out.indexOf(from, at);
        if (i < 0) break;
        out = out.slice(0, i) + to + out.slice(i + from.length);
        at = i + to.length;
      }
      return out;
    },
    regex_replace: (...args) => {
      const { positional, keywords } = splitKeywords(args);
      const [value = '', pattern = '', replacement = '', ignorecase = keywords['ignorecase'], multiline = keywords['multiline']] = positional;
      const flags = `g${pythonTruthy(ignorecase) ? 'i' : ''}${pythonTruthy(multiline) ? 'm' : ''}`;
      return pyStr(value).replace(pyRegex(pyStr(pattern), flags), pyReplacement(pyStr(replacement)));
    },
    regex_search: (value, pattern) => {
      const m = pyRegex(pyStr(pattern), '').exec(pyStr(value));
      return m ? m[0] : null;
    },
    join: (...args) => {
      const { positional, keywords } = splitKeywords(args);
      const [value, sep = ''] = positional;
      const attribute = keywords['attribute'];
      const items = Array.isArray(value) ? value : typeof value === 'string' ? [...value] : [];
      return items
        .map((x) => (attribute !== undefined && x !== null && typeof x === 'object' ? (x as Record<string, unknown>)[String(attribute)] : x))
        .map(pyStr)
        .join(pyStr(keywords['d'] ?? sep));
    },
    first: (value) => (Array.isArray(value) || typeof value === 'string' ? value[0] : undefined),
    last: (value) => (Array.isArray(value) || typeof value === 'string' ? value[value.length - 1] : undefined),
    length,
    count: length,
    list: (value) => {
      if (Array.isArray(value)) return value;
      if (typeof value === 'string') return [...value];
      if (value !== null && typeof value === 'object') return Object.keys(value);
      throw new FilterError(`list: object of type ${typeof value} is not iterable`);
    },
    unique: (value) => (Array.isArray(value) ? [...new Map(value.map((v) => [JSON.stringify(v), v])).values()] : value),
    ternary: (value, whenTrue, whenFalse, whenNone) => {
      if ((value === null || value === undefined) && whenNone !== undefined && whenNone !== null) return whenNone;
      return pythonTruthy(value) ? whenTrue : whenFalse;
    },
    combine: (...args) => {
      const { positional } = splitKeywords(args);
      return Object.assign({}, ...positional.filter((x) => x !== null && typeof x === 'object'));
    },
    to_json: (value) => JSON.stringify(value),
    from_json: (value) => JSON.parse(pyStr(value)) as unknown,
    ipaddr: (value, query = '') => ipaddr(value, query),
    ipv4: (value, query = '') => ipaddr(value, query, 4, 'ipv4'),
    ipv6: (value, query = '') => ipaddr(value, query, 6, 'ipv6'),
    ipwrap: (value, query = '') => ipwrap(value, query),
    version_compare: (value, other, op = 'eq') => versionTest(value, other, op),
  };
  filters['d'] = filters['default']!;
  filters['map'] = (...args: unknown[]) => {
    const { positional, keywords } = splitKeywords(args);
    const [value, filterName, ...rest] = positional;
    const items = Array.isArray(value) ? value : [];
    if (keywords['attribute'] !== undefined) {
      const attr = String(keywords['attribute']);
      return items.map((x) => (x !== null && typeof x === 'object' ? (x as Record<string, unknown>)[attr] : undefined));
    }
    const fn = filters[String(filterName)] ?? (env.getFilter(String(filterName)) as Fn | undefined);
    if (!fn) throw new FilterError(`map: no filter named "${String(filterName)}"`);
    return items.map((x) => fn(x, ...rest));
  };
  // Today's Kubespray writes collection-qualified names (ansible.utils.ipaddr, ansible.builtin.bool).
  const IP_FILTERS = ['ipaddr', 'ipv4', 'ipv6', 'ipwrap'];
  for (const [name, fn] of Object.entries(filters)) {
    env.addFilter(name, fn);
    const collections = IP_FILTERS.includes(name) ? ['ansible.utils', 'ansible.netcommon'] : ['ansible.builtin'];
    for (const c of collections) env.addFilter(`${c}.${name}`, fn);
  }

  // @types/nunjucks lacks addTest, which nunjucks has had since 2.x.
  const tests = env as unknown as { addTest(name: string, fn: (...args: unknown[]) => boolean): void };
  tests.addTest('defined', (value: unknown) => {
    if (value === undefined) hooks.guard();
    return value !== undefined;
  });
  tests.addTest('undefined', (value: unknown) => {
    if (value === undefined) hooks.guard();
    return value === undefined;
  });
  tests.addTest('none', (value: unknown) => value === null);
  // The evaluator passes these tests' arguments as one list (see packTestArguments()).
  for (const name of ['version', 'version_compare', 'ansible.builtin.version']) {
    tests.addTest(name, (value: unknown, packed: unknown) => {
      const [other, op = 'eq'] = Array.isArray(packed) ? packed : [packed];
      return versionTest(value, other, op);
    });
  }
}

/** Ansible turns a rendered string that looks like a list, dict or boolean back into one. */
export function convertRendered(text: string): unknown {
  if ((text.startsWith('[') || (text.startsWith('{') && !text.startsWith('{{'))) && text.length > 1) {
    const value = parseFlowLiteral(text);
    if (value !== undefined) return value;
  }
  if (text === 'True') return true;
  if (text === 'False') return false;
  return text;
}
