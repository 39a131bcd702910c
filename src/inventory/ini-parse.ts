/**
 * Ansible's INI inventory dialect, as Kubespray uses it:
 *   [group]            host lines: `pattern key=value key="quoted value"`
 *   [group:children]   one child group name per line
 *   [group:vars]       `key=value` lines
 * Lines before the first section are hosts of `ungrouped`. `#` and `;` start comments (whole
 * line, or after whitespace). Group names are mapped to their current Kubespray names here.
 */
import { KprovError, type SourceLocation } from '../errors.js';
import { canonicalGroupName, GROUP_NAME_PATTERN } from './groups.js';
import { expandHostPattern, HostPatternError } from './host-pattern.js';
import { splitVarsLine, tokenizeHostLine } from './ini-tokenize.js';
import { parseInlineLiteral } from './literal.js';
import { GROUP } from './model.js';

type Located = SourceLocation & { line: number; column: number };

export interface IniVar {
  key: string;
  value: unknown;
  location: Located;
}

export type SectionKind = 'hosts' | 'children' | 'vars';

export interface IniSection {
  /** Canonical group name. */
  group: string;
  /** The name as written (old names differ). */
  written: string;
  kind: SectionKind;
  location: Located;
}

export interface IniHostEntry {
  host: string;
  /** Canonical name of the group section the line is in. */
  group: string;
  /** The section header as written, for messages. */
  section: string;
  port?: number;
  vars: IniVar[];
  location: Located;
}

export interface IniChild {
  parent: string;
  child: string;
  /** The section header as written, for messages. */
  section: string;
  location: Located;
}

export interface IniGroupVar extends IniVar {
  group: string;
  section: string;
}

export interface ParsedIni {
  file: string;
  sections: IniSection[];
  hosts: IniHostEntry[];
  children: IniChild[];
  groupVars: IniGroupVar[];
}

const SECTION = /^\[([^\]]*)\]\s*(?:[#;].*)?$/;
const KINDS: Readonly<Record<string, SectionKind>> = { '': 'hosts', children: 'children', vars: 'vars' };

export function parseInventoryIni(text: string, file: string): ParsedIni {
  const out: ParsedIni = { file, sections: [], hosts: [], children: [], groupVars: [] };
  let current: IniSection | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineNo = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const indent = raw.length - raw.trimStart().length;
    const at: Located = { file, line: lineNo, column: indent + 1 };
    if (trimmed.startsWith('[') && !looksLikeRangedHost(trimmed)) {
      current = parseSectionHeader(trimmed, at);
      out.sections.push(current);
      continue;
    }
    const kind = current?.kind ?? 'hosts';
    const group = current?.group ?? GROUP.ungrouped;
    const section = current ? headerText(current) : '[ungrouped]';
    if (kind === 'vars') {
      const v = splitVarsLine(raw, { file, line: lineNo }, section.slice(1, -1));
      out.groupVars.push({ key: v.key, value: v.value, group, section, location: { file, line: lineNo, column: v.keyColumn } });
    } else if (kind === 'children') {
      out.children.push(parseChildLine(raw, at, group, section));
    } else {
      out.hosts.push(...parseHostLine(raw, at, group, section));
    }
  }
  return out;
}

/** `[01:20].example.com` style host lines start with `[` too; a header has no space before `]`. */
function looksLikeRangedHost(line: string): boolean {
  return /^\[[^\]]*:[^\]]*\][^\s#;]/.test(line);
}

function headerText(s: IniSection): string {
  return s.kind === 'hosts' ? `[${s.written}]` : `[${s.written}:${s.kind}]`;
}

function parseSectionHeader(line: string, at: Located): IniSection {
  const m = SECTION.exec(line);
  if (!m) {
    throw new KprovError('inventory', `bad section header "${line}"; expected [group], [group:children] or [group:vars]`, {
      location: at,
    });
  }
  const inner = m[1]!.trim();
  const colon = inner.indexOf(':');
  const written = colon < 0 ? inner : inner.slice(0, colon);
  const suffix = colon < 0 ? '' : inner.slice(colon + 1);
  const kind = KINDS[suffix];
  if (kind === undefined) {
    throw new KprovError('inventory', `unknown section kind ":${suffix}" in [${inner}]; expected [${written}], [${written}:children] or [${written}:vars]`, {
      location: { ...at, column: at.column + 1 + colon + 1 },
    });
  }
  if (!GROUP_NAME_PATTERN.test(written)) {
    throw new KprovError('inventory', `invalid group name "${written}" in [${inner}]; expected letters, digits, "_", "-" and "."`, {
      location: { ...at, column: at.column + 1 },
    });
  }
  return { group: canonicalGroupName(written), written, kind, location: at };
}

function parseChildLine(raw: string, at: Located, parent: string, section: string): IniChild {
  const tokens = tokenizeHostLine(raw, at);
  const first = tokens[0]!;
  if (tokens.length > 1 || first.text.includes('=')) {
    throw new KprovError('inventory', `expected one group name per line in ${section}, found "${raw.trim()}"`, {
      location: { ...at, column: (tokens.length > 1 ? tokens[1]! : first).column },
      hint: 'hosts and their variables belong in a [group] section; :children lists groups',
    });
  }
  if (!GROUP_NAME_PATTERN.test(first.text)) {
    throw new KprovError('inventory', `invalid group name "${first.text}" in ${section}`, {
      location: { ...at, column: first.column },
    });
  }
  return { parent, child: canonicalGroupName(first.text), section, location: { ...at, column: first.column } };
}

function parseHostLine(raw: string, at: Located, group: string, section: string): IniHostEntry[] {
  const tokens = tokenizeHostLine(raw, at);
  const [patternToken, ...rest] = tokens;
  if (!patternToken) return [];
  if (patternToken.text.includes('=')) {
    throw new KprovError('inventory', `expected a host name before "${patternToken.text}" in ${section}`, {
      location: { ...at, column: patternToken.column },
      hint: section.endsWith(':vars]') ? undefined : `group variables belong in a [${section.slice(1, -1)}:vars] section`,
    });
  }
  let expanded;
  try {
    expanded = expandHostPattern(patternToken.text);
  } catch (err) {
    if (err instanceof HostPatternError) {
      throw new KprovError('inventory', `${err.message} (in ${section})`, {
        location: { ...at, column: patternToken.column + err.offset },
      });
    }
    throw err;
  }
  const vars: IniVar[] = [];
  for (const tok of rest) {
    const eq = tok.text.indexOf('=');
    if (eq <= 0) {
      throw new KprovError('inventory', `expected key=value after the host name, found "${tok.text}"`, {
        location: { ...at, column: tok.column },
        hint: 'one host per line; quote values that contain spaces: key="a value"',
      });
    }
    const key = tok.text.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new KprovError('inventory', `invalid variable name "${key}"; expected letters, digits and _`, {
        location: { ...at, column: tok.column },
      });
    }
    vars.push({ key, value: parseInlineLiteral(tok.text.slice(eq + 1)), location: { ...at, column: tok.column } });
  }
  return expanded.names.map((host) => ({
    host,
    group,
    section,
    ...(expanded.port === undefined ? {} : { port: expanded.port }),
    vars,
    location: { ...at, column: patternToken.column },
  }));
}
