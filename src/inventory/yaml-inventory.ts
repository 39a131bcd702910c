/**
 * Ansible's YAML inventory format, which Kubespray's inventory builder writes since v2.11
 * (`hosts.yml`): groups nest under `all` with `hosts` (host → its variables), `children`
 * (group → the same structure) and `vars`. It is read into the same model as the INI form, every
 * host, group and variable keeping the line it was written on, with YAML 1.1 as Ansible reads it.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { KprovError, type SourceLocation } from '../errors.js';
import { canonicalGroupName, GROUP_NAME_PATTERN } from './groups.js';
import { expandHostPattern, HostPatternError } from './host-pattern.js';
import type { IniChild, IniGroupVar, IniHostEntry, IniSection, IniVar, ParsedIni } from './ini-parse.js';
import { GROUP } from './model.js';
import { pyYamlTags, shortYamlMessage, VaultValue } from './yaml-vars.js';

type Located = SourceLocation & { line: number; column: number };

const GROUP_KEYS = new Set(['hosts', 'children', 'vars']);
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseInventoryYaml(text: string, file: string): ParsedIni {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: false, merge: true, customTags: pyYamlTags, lineCounter, prettyErrors: true });
  const firstError = doc.errors[0];
  if (firstError) {
    const pos = firstError.linePos?.[0];
    throw new KprovError('inventory', `YAML syntax error: ${shortYamlMessage(firstError.message)}`, {
      location: pos ? { file, line: pos.line, column: pos.col } : { file },
    });
  }
  const at = (node: Node | null | undefined): Located => {
    const pos = lineCounter.linePos(node?.range?.[0] ?? 0);
    return { file, line: pos.line, column: pos.col };
  };
  const out: ParsedIni = { file, sections: [], hosts: [], children: [], groupVars: [] };
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return out;
  if (!isMap(root)) throw new KprovError('inventory', 'expected a mapping of group names (all: …) at the top of a YAML inventory', { location: at(root) });

  const reader = new GroupReader(doc, at, out);
  for (const pair of root.items as Pair<Node, Node | null>[]) reader.group(pair.key, pair.value, undefined);
  return out;
}

class GroupReader {
  constructor(
    private readonly doc: Document,
    private readonly at: (node: Node | null | undefined) => Located,
    private readonly out: ParsedIni,
  ) {}

  /** A group's body: `hosts`, `children` and `vars`, any of them absent (a bare `group:` is empty). */
  group(keyNode: Node, body: Node | null, parent: string | undefined): void {
    const written = this.name(keyNode, 'group');
    const location = this.at(keyNode);
    if (!GROUP_NAME_PATTERN.test(written)) {
      throw new KprovError('inventory', `invalid group name "${written}"`, { location, hint: 'group names are letters, digits, _ and -' });
    }
    const group = canonicalGroupName(written);
    const section = `${written}:`;
    const declared: IniSection = { group, written, kind: 'hosts', location };
    this.out.sections.push(declared);
    if (parent !== undefined && parent !== GROUP.all) {
      this.out.children.push({ parent, child: group, section: `${parent}: children`, location } satisfies IniChild);
    }
    const map = this.mapping(body, `the body of group ${written} (hosts:, children:, vars:)`);
    if (!map) return;
    for (const pair of map.items as Pair<Node, Node | null>[]) {
      const key = this.name(pair.key, 'key');
      if (!GROUP_KEYS.has(key)) {
        throw new KprovError('inventory', `unexpected key "${key}" in group ${written}; expected hosts, children or vars`, {
          location: this.at(pair.key),
          hint: `a child group goes under ${written}: children:, a variable under ${written}: vars:`,
        });
      }
      if (key === 'hosts') this.hosts(pair.value, group, section);
      else if (key === 'children') {
        const children = this.mapping(pair.value, `the children of ${written}`);
        for (const child of (children?.items ?? []) as Pair<Node, Node | null>[]) this.group(child.key, child.value, group);
      } else {
        for (const v of this.vars(pair.value, `the vars of ${written}`)) this.out.groupVars.push({ ...v, group, section } satisfies IniGroupVar);
      }
    }
  }

  private hosts(node: Node | null, group: string, section: string): void {
    const map = this.mapping(node, `the hosts of ${section.slice(0, -1)}`);
    for (const pair of (map?.items ?? []) as Pair<Node, Node | null>[]) {
      const pattern = this.name(pair.key, 'host');
      const location = this.at(pair.key);
      let expanded;
      try {
        expanded = expandHostPattern(pattern);
      } catch (err) {
        if (err instanceof HostPatternError) throw new KprovError('inventory', err.message, { location: { ...location, column: location.column + err.offset } });
        throw err;
      }
      const vars = this.vars(pair.value, `the variables of host ${pattern}`);
      for (const host of expanded.names) {
        this.out.hosts.push({ host, group, section, ...(expanded.port === undefined ? {} : { port: expanded.port }), vars, location } satisfies IniHostEntry);
      }
    }
  }

  private vars(node: Node | null, what: string): IniVar[] {
    const map = this.mapping(node, what);
    const out: IniVar[] = [];
    for (const pair of (map?.items ?? []) as Pair<Node, Node | null>[]) {
      const key = this.name(pair.key, 'variable');
      const location = this.at(pair.key);
      if (!VAR_NAME.test(key)) throw new KprovError('inventory', `invalid variable name ${JSON.stringify(key)}; expected letters, digits and _`, { location });
      const value: unknown = pair.value === null ? null : pair.value.toJS(this.doc, { maxAliasCount: 1000 });
      if (value instanceof VaultValue) {
        throw new KprovError('inventory', `${key} is an ansible-vault encrypted value, which kprov cannot read`, { location, hint: 'put the plain value in the inventory, or leave the variable out' });
      }
      out.push({ key, value, location });
    }
    return out;
  }

  /** A mapping, or undefined for an empty value (`hosts:` with nothing under it). */
  private mapping(node: Node | null, what: string): YAMLMap | undefined {
    if (node === null || (isScalar(node) && (node.value === null || node.value === ''))) return undefined;
    if (!isMap(node)) throw new KprovError('inventory', `expected a mapping for ${what}`, { location: this.at(node) });
    return node;
  }

  private name(node: Node, what: string): string {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value === 'string' || typeof value === 'number') return String(value);
    throw new KprovError('inventory', `expected a ${what} name`, { location: this.at(node) });
  }
}
