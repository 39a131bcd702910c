/**
 * Ansible host patterns, as plays' `hosts:` and `--limit` use them:
 * `all`, a group, a host, `a:b` (union), `a:&b` (intersection), `a:!b` (exclusion),
 * globs (`node*`, `node?`, `node[12]`) and `~regex`, over host and group names.
 * As in Ansible, unions are taken first, then intersections, then exclusions, whatever their
 * order; a pattern with no union term starts from `all`. Commas separate terms like colons.
 */
import { KprovError, type SourceLocation } from '../errors.js';
import { GROUP } from '../inventory/model.js';

export interface PatternTarget {
  readonly hosts: readonly { readonly name: string }[];
  readonly groups: Readonly<Record<string, readonly string[]>>;
}

export interface PatternTerm {
  op: 'union' | 'intersect' | 'exclude';
  text: string;
}

export interface PatternContext {
  /** Where the pattern was written (a playbook's `hosts:`), for the error message. */
  location?: SourceLocation;
  /** How the user knows the pattern, e.g. `--limit` or `hosts`. */
  label: string;
}

// Groups kprov knows may be absent from an inventory (no bastion, no calico_rr) and then are
// empty rather than unknown, so playbooks can name them.
const WELL_KNOWN_GROUPS: ReadonlySet<string> = new Set(Object.values(GROUP));

export function parsePattern(pattern: string, ctx: PatternContext): PatternTerm[] {
  const terms: PatternTerm[] = [];
  for (const raw of pattern.split(/[:,]/)) {
    const item = raw.trim();
    if (item === '') {
      throw patternError(`${ctx.label} "${pattern}" has an empty term`, ctx, 'separate names with ":" as in kube_node:!kube_control_plane');
    }
    if (item.startsWith('&') || item.startsWith('!')) {
      const text = item.slice(1).trim();
      if (text === '') throw patternError(`${ctx.label} "${pattern}": "${item}" names nothing`, ctx);
      terms.push({ op: item.startsWith('&') ? 'intersect' : 'exclude', text });
    } else {
      terms.push({ op: 'union', text: item });
    }
  }
  if (terms.length === 0) throw patternError(`${ctx.label} is empty`, ctx);
  return terms;
}

/** Host names the pattern selects, in inventory order. Unknown names are errors. */
export function selectHosts(pattern: string, target: PatternTarget, ctx: PatternContext): string[] {
  const terms = parsePattern(pattern, ctx);
  const allNames = target.hosts.map((h) => h.name);
  const unions = terms.filter((t) => t.op === 'union');
  let selected = new Set<string>(unions.length === 0 ? allNames : []);
  for (const t of unions) for (const name of matchTerm(t.text, target, pattern, ctx)) selected.add(name);
  for (const t of terms.filter((x) => x.op === 'intersect')) {
    const other = new Set(matchTerm(t.text, target, pattern, ctx));
    selected = new Set([...selected].filter((n) => other.has(n)));
  }
  for (const t of terms.filter((x) => x.op === 'exclude')) {
    for (const name of matchTerm(t.text, target, pattern, ctx)) selected.delete(name);
  }
  return allNames.filter((n) => selected.has(n));
}

function matchTerm(text: string, target: PatternTarget, pattern: string, ctx: PatternContext): string[] {
  if (text === 'all' || text === '*') return target.hosts.map((h) => h.name);
  const groupMembers = target.groups[text];
  if (groupMembers) return [...groupMembers];
  if (target.hosts.some((h) => h.name === text)) return [text];
  const matcher = termMatcher(text, pattern, ctx);
  if (!matcher) {
    if (WELL_KNOWN_GROUPS.has(text)) return [];
    throw patternError(`${ctx.label} "${pattern}": no group or host named "${text}"`, ctx, knownNamesHint(target));
  }
  const out = new Set<string>();
  for (const [group, members] of Object.entries(target.groups)) {
    if (matcher.test(group)) for (const m of members) out.add(m);
  }
  for (const h of target.hosts) if (matcher.test(h.name)) out.add(h.name);
  if (out.size === 0) {
    throw patternError(`${ctx.label} "${pattern}": "${text}" matches no group or host`, ctx, knownNamesHint(target));
  }
  return [...out];
}

/** A regex for `~regex` and glob terms; undefined for a plain name. */
function termMatcher(text: string, pattern: string, ctx: PatternContext): RegExp | undefined {
  if (text.startsWith('~')) {
    try {
      // Ansible matches a ~regex from the start of the name (Python's re.match).
      return new RegExp(`^(?:${text.slice(1)})`);
    } catch (err) {
      throw patternError(`${ctx.label} "${pattern}": bad regular expression ${text}: ${(err as Error).message}`, ctx);
    }
  }
  if (!/[*?[]/.test(text)) return undefined;
  return globToRegExp(text);
}

/**
 * Python's fnmatch, which Ansible uses for host patterns: `*`, `?`, `[seq]`, `[!seq]`; host and
 * group names hold no path separators, so file-glob libraries' `/` rules do not apply.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) {
        out += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, close);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      out += `[${set.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

function knownNamesHint(target: PatternTarget): string {
  const groups = Object.keys(target.groups).sort();
  const shown = groups.slice(0, 12).join(', ');
  return `groups in this inventory: ${shown}${groups.length > 12 ? ', …' : ''}`;
}

function patternError(message: string, ctx: PatternContext, hint?: string): KprovError {
  return new KprovError('usage', message, {
    ...(ctx.location ? { location: ctx.location } : {}),
    ...(hint ? { hint } : {}),
  });
}
