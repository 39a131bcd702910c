/**
 * Ansible's variable precedence for inventory variables, lowest first:
 *   1. [all:vars] in the INI file
 *   2. [group:vars] of the host's other groups, by depth (parent before child), then by name
 *   3. group_vars/all
 *   4. group_vars/<group> of the host's other groups, in the same order
 *   5. inline host variables on the INI host lines (later lines win)
 *   6. host_vars/<host>
 *   7. extra variables (-e), whatever the host
 * (ansible-core's VARIABLE_PRECEDENCE default and sort_groups(); group names are compared in
 * their current Kubespray spelling.)
 */
import type { SourceLocation } from '../errors.js';
import type { VarDef } from './evaluator.js';
import type { Hierarchy } from './hierarchy.js';
import type { ParsedIni } from './ini-parse.js';
import { GROUP } from './model.js';
import { VARIABLE_ALIASES } from './schema.js';
import type { ExtraVar } from './extra-vars.js';
import type { FileVar } from './yaml-vars.js';

export interface LoadedVarsFile {
  file: string;
  vars: FileVar[];
}

export interface VariableSources {
  ini: ParsedIni;
  hierarchy: Hierarchy;
  /** Canonical group name → its group_vars files, lowest precedence first. */
  groupFiles: ReadonlyMap<string, readonly LoadedVarsFile[]>;
  /** Host name → its host_vars files. */
  hostFiles: ReadonlyMap<string, readonly LoadedVarsFile[]>;
  /** -e/--extra-vars, in the order given. */
  extraVars: readonly ExtraVar[];
}

/** A host's groups other than `all`, in the order their variables are applied. */
export function groupsByPrecedence(hierarchy: Hierarchy, host: string): string[] {
  return hierarchy
    .groupsOf(host)
    .filter((g) => g !== GROUP.all)
    .sort((a, b) => {
      const da = hierarchy.groups.get(a)!.depth;
      const db = hierarchy.groups.get(b)!.depth;
      return da - db || (a < b ? -1 : a > b ? 1 : 0);
    });
}

/** One definition object per place a variable is set, shared by every host it applies to. */
const definitions = new WeakMap<object, VarDef>();
function definitionOf(source: { value: unknown; location: SourceLocation }): VarDef {
  let def = definitions.get(source);
  if (!def) {
    def = { value: source.value, location: source.location };
    definitions.set(source, def);
  }
  return def;
}

/** The host's variables as the inventory defines them (no defaults), each with where it won. */
export function mergeHostVariables(sources: VariableSources, host: string): Map<string, VarDef> {
  const merged = new Map<string, VarDef>();
  const set = (key: string, def: VarDef) => {
    merged.delete(key); // re-insert so the map's order follows the winning definitions
    merged.set(key, def);
  };
  const ordered = groupsByPrecedence(sources.hierarchy, host);
  for (const group of [GROUP.all, ...ordered]) {
    for (const v of sources.ini.groupVars) if (v.group === group) set(v.key, definitionOf(v));
  }
  for (const group of [GROUP.all, ...ordered]) {
    for (const f of sources.groupFiles.get(group) ?? []) for (const v of f.vars) set(v.key, definitionOf(v));
  }
  for (const entry of sources.ini.hosts) {
    if (entry.host !== host) continue;
    if (entry.port !== undefined) set('ansible_port', { value: entry.port, location: entry.location });
    for (const v of entry.vars) set(v.key, definitionOf(v));
  }
  for (const f of sources.hostFiles.get(host) ?? []) for (const v of f.vars) set(v.key, definitionOf(v));
  for (const v of sources.extraVars) set(v.key, definitionOf(v));

  // Older spellings stand in for the current ones only where those are not set at all.
  for (const [alias, canonical] of Object.entries(VARIABLE_ALIASES)) {
    const def = merged.get(alias);
    if (def && !merged.has(canonical)) merged.set(canonical, def);
  }
  return merged;
}
