/**
 * Hosts and groups from a parsed INI inventory: which hosts exist (the undefined-host rule),
 * group membership through :children (cycles are errors), the implicit `all` and `ungrouped`
 * groups, a derived `k8s_cluster`, and each group's depth (Ansible orders group variables by it).
 */
import { KprovError, type SourceLocation } from '../errors.js';
import type { IniChild, ParsedIni } from './ini-parse.js';
import { GROUP, type InventoryWarning } from './model.js';
import { compareNatural } from './natural-sort.js';

export interface GroupInfo {
  name: string;
  /** Longest path from `all` (all = 0, its children = 1, …). */
  depth: number;
  parents: Set<string>;
  children: Set<string>;
  /** Hosts listed in the group's own section, in file order. */
  directHosts: string[];
  /** The first section that declared it; undefined for implicit and derived groups. */
  location?: SourceLocation;
}

export interface Hierarchy {
  /** Host names in the order they were first defined. */
  hosts: string[];
  /** Where each host was first defined. */
  hostLocations: Map<string, SourceLocation>;
  groups: Map<string, GroupInfo>;
  /** Every group a host belongs to, `all` included, sorted by name. */
  groupsOf(host: string): string[];
  /** A group's hosts (own and its descendants'), in Ansible's order (own first, then children's). */
  membersInOrder(group: string): string[];
  warnings: InventoryWarning[];
}

function newGroup(name: string, location?: SourceLocation): GroupInfo {
  const g: GroupInfo = { name, depth: 0, parents: new Set(), children: new Set(), directHosts: [] };
  if (location) g.location = location;
  return g;
}

export function buildHierarchy(ini: ParsedIni): Hierarchy {
  const warnings: InventoryWarning[] = [];
  const groups = new Map<string, GroupInfo>();
  groups.set(GROUP.all, newGroup(GROUP.all));
  groups.set(GROUP.ungrouped, newGroup(GROUP.ungrouped));

  // Groups are declared by [group] and [group:children] sections (not by [group:vars] alone).
  const writtenNames = new Map<string, Set<string>>();
  for (const s of ini.sections) {
    const names = writtenNames.get(s.group) ?? new Set<string>();
    names.add(s.written);
    writtenNames.set(s.group, names);
    if (s.kind === 'vars') continue;
    const g = groups.get(s.group);
    if (!g) groups.set(s.group, newGroup(s.group, s.location));
    else if (!g.location && s.group !== GROUP.all && s.group !== GROUP.ungrouped) g.location = s.location;
  }
  for (const [group, names] of writtenNames) {
    if (names.size > 1) {
      warnings.push({
        code: 'group-alias',
        message: `sections [${[...names].join('] and [')}] name the same group (${group}); their hosts and variables are merged`,
      });
    }
  }

  // The undefined-host rule: with hosts listed under [all] (Kubespray's layout), a host named
  // anywhere else must be one of them, which catches typos; otherwise a first mention defines it.
  const allListed = new Set(ini.hosts.filter((h) => h.group === GROUP.all).map((h) => h.host));
  const hosts: string[] = [];
  const hostLocations = new Map<string, SourceLocation>();
  for (const entry of ini.hosts) {
    if (allListed.size > 0 && entry.group !== GROUP.all && !allListed.has(entry.host)) {
      throw new KprovError('inventory', `host ${entry.host} in ${entry.section} is not defined in [all]`, {
        location: entry.location,
        hint: `add ${entry.host} (with its ansible_host) under [all], or correct the name`,
      });
    }
    if (!hostLocations.has(entry.host)) {
      hostLocations.set(entry.host, entry.location);
      hosts.push(entry.host);
    }
    if (entry.group !== GROUP.all) {
      const g = groups.get(entry.group)!;
      if (!g.directHosts.includes(entry.host)) g.directHosts.push(entry.host);
    }
  }

  for (const c of ini.children) addChild(groups, c);
  for (const v of ini.groupVars) {
    if (!groups.has(v.group)) {
      throw new KprovError('inventory', `${v.section} sets variables for group ${v.group}, which has no [${v.group}] or [${v.group}:children] section`, {
        location: v.location,
        hint: 'declare the group (an empty section is enough), or correct the name',
      });
    }
  }
  deriveK8sCluster(groups);
  checkCycles(groups, ini.children);

  // Every group without another parent is a child of all; hosts in no group are ungrouped.
  for (const g of groups.values()) {
    if (g.name !== GROUP.all && g.parents.size === 0) {
      g.parents.add(GROUP.all);
      groups.get(GROUP.all)!.children.add(g.name);
    }
  }
  const grouped = new Set<string>();
  for (const g of groups.values()) if (g.name !== GROUP.ungrouped) for (const h of g.directHosts) grouped.add(h);
  const ungrouped = groups.get(GROUP.ungrouped)!;
  ungrouped.directHosts = hosts.filter((h) => !grouped.has(h));
  computeDepths(groups);

  const closure = new Map<string, string[]>();
  const groupsOf = (host: string): string[] => {
    const cached = closure.get(host);
    if (cached) return cached;
    const found = new Set<string>([GROUP.all]);
    const visit = (name: string) => {
      if (found.has(name)) return;
      found.add(name);
      for (const p of groups.get(name)?.parents ?? []) visit(p);
    };
    for (const g of groups.values()) if (g.directHosts.includes(host)) visit(g.name);
    const sorted = [...found].sort(compareNatural);
    closure.set(host, sorted);
    return sorted;
  };
  const membersInOrder = (group: string): string[] => {
    if (group === GROUP.all) return [...hosts];
    const out: string[] = [];
    const seen = new Set<string>();
    const walk = (name: string, path: Set<string>) => {
      const g = groups.get(name);
      if (!g || path.has(name)) return;
      for (const h of g.directHosts) if (!seen.has(h)) (seen.add(h), out.push(h));
      path.add(name);
      for (const c of g.children) walk(c, path);
      path.delete(name);
    };
    walk(group, new Set());
    return out;
  };
  return { hosts, hostLocations, groups, groupsOf, membersInOrder, warnings };
}

function addChild(groups: Map<string, GroupInfo>, c: IniChild): void {
  const child = groups.get(c.child);
  if (!child) {
    throw new KprovError('inventory', `group ${c.child} in ${c.section} is not defined: there is no [${c.child}] section`, {
      location: c.location,
      hint: `add a [${c.child}] section (it may be empty), or correct the name`,
    });
  }
  if (c.child === GROUP.all) {
    throw new KprovError('inventory', `${c.section} lists all, which contains every group already`, { location: c.location });
  }
  groups.get(c.parent)!.children.add(c.child);
  child.parents.add(c.parent);
}

/** Kubespray derives k8s_cluster from the control plane, nodes and calico_rr when it is absent. */
function deriveK8sCluster(groups: Map<string, GroupInfo>): void {
  if (groups.has(GROUP.k8sCluster)) return;
  const members = [GROUP.controlPlane, GROUP.node, GROUP.calicoRr].filter((g) => groups.has(g));
  if (members.length === 0) return;
  const k8s = newGroup(GROUP.k8sCluster);
  groups.set(GROUP.k8sCluster, k8s);
  for (const m of members) {
    k8s.children.add(m);
    groups.get(m)!.parents.add(GROUP.k8sCluster);
  }
}

/** A cycle in :children is an error showing the cycle, at the line that closes it. */
function checkCycles(groups: Map<string, GroupInfo>, edges: readonly IniChild[]): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string) => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const child of [...groups.get(name)!.children].sort()) {
      const s = state.get(child);
      if (s === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(child)), child];
        const edge = edges.find((e) => e.parent === name && e.child === child);
        throw new KprovError('inventory', `cycle in :children: ${cycle.join(' → ')}`, {
          ...(edge ? { location: edge.location } : {}),
          hint: 'a group cannot contain itself, directly or through other groups',
        });
      }
      if (s === undefined) visit(child);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of [...groups.keys()].sort()) if (!state.has(name)) visit(name);
}

/** Ansible's Group.depth: the longest chain of parents up to `all`. */
function computeDepths(groups: Map<string, GroupInfo>): void {
  const memo = new Map<string, number>();
  const depth = (name: string): number => {
    if (name === GROUP.all) return 0;
    const known = memo.get(name);
    if (known !== undefined) return known;
    let d = 0;
    for (const p of groups.get(name)!.parents) d = Math.max(d, depth(p) + 1);
    memo.set(name, d);
    return d;
  };
  for (const g of groups.values()) g.depth = depth(g.name);
}
