/**
 * loadInventory(): an inventory directory (Kubespray layout, either era) → the typed, validated
 * model every other part of kprov reads. Errors are KprovErrors naming file, line and column.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { KprovError, throwAll, type SourceLocation } from '../errors.js';
import { checkGroups, checkVariables } from './checks.js';
import { clusterView } from './cluster-view.js';
import type { ExtraVar } from './extra-vars.js';
import { Evaluator, ExpressionError, type EvalScope, type VarDef } from './evaluator.js';
import { buildHierarchy, type Hierarchy } from './hierarchy.js';
import { parseInventoryIni, type ParsedIni } from './ini-parse.js';
import { parseInventoryYaml } from './yaml-inventory.js';
import { GROUP, type InventoryHost, type InventoryWarning } from './model.js';
import { compareNatural, sortNatural } from './natural-sort.js';
import { mergeHostVariables, type LoadedVarsFile } from './precedence.js';
import { readInventoryText } from './read-text.js';
import { closestMatch } from '../did-you-mean.js';
import { KUBESPRAY_ROLE_DEFAULTS } from './kubespray-role-defaults.js';
import { kubesprayVariable, kubesprayVariableNames, sameAsKubespray } from './kubespray-variables.js';
import { DEFAULTS, hostVarsSchema, isKnownVariable, VARIABLE_ALIASES, type ClusterVars, type HostVars, type KnownVariable } from './schema.js';
import { distinctErrors, parseHostVars } from './validate.js';
import { findVarsFiles } from './vars-files.js';
import { loadVarsFile, UnsafeText } from './yaml-vars.js';

export interface LoadOptions {
  /** Unknown variables are errors instead of warnings. */
  strict?: boolean;
  /** -e/--extra-vars (parseExtraVars): the highest precedence, for every host. */
  extraVars?: readonly ExtraVar[];
  /**
   * Ansible's -u, -b, --become-user and --private-key: they replace kprov's defaults for the
   * connection variables, and the inventory's own values still win (as in Ansible).
   */
  connectionDefaults?: Readonly<Partial<Record<'ansible_user' | 'ansible_become' | 'ansible_become_user' | 'ansible_ssh_private_key_file', unknown>>>;
}

export interface Inventory {
  /** Absolute inventory directory. */
  dir: string;
  /** Absolute path of inventory.ini (or hosts.ini / hosts). */
  source: string;
  /** In definition order. */
  hosts: InventoryHost[];
  /** Canonical group → every member host (incl. via :children), sorted; `all` and `ungrouped` included. */
  groups: Record<string, string[]>;
  /** kprov's variables as the first kube_control_plane host sees them (etcd settings: the first etcd host). */
  cluster: ClusterVars;
  /** kprov's variables as one host sees them, connection variables included. Throws for an unknown host. */
  hostVars(name: string): HostVars;
  /**
   * Where the inventory set a host's variable, and the name it was written under there (an older
   * alias such as ansible_private_key_file, say). Undefined when it is unset or kprov's default.
   */
  definedAt(name: string, key: KnownVariable): { location: SourceLocation; variable: string } | undefined;
  warnings: InventoryWarning[];
}

/**
 * File names tried in an inventory directory, in order: Kubespray's sample used hosts.ini until
 * 2020; its inventory builder writes hosts.yaml (Ansible's YAML inventory format).
 */
export const INVENTORY_FILE_NAMES = ['inventory.ini', 'hosts.ini', 'hosts', 'hosts.yaml', 'hosts.yml', 'inventory.yaml', 'inventory.yml'] as const;

/** YAML inventories are named so (Ansible tells them apart the same way). */
const isYamlInventory = (file: string) => /\.ya?ml$/i.test(file);

/** Ansible variables that are set by Ansible itself and usable in expressions. */
const MAGIC_VARIABLES = new Set([
  'inventory_hostname',
  'inventory_hostname_short',
  'inventory_dir',
  'inventory_file',
  'group_names',
  'groups',
  'hostvars',
]);

async function kindOf(p: string): Promise<'file' | 'dir' | undefined> {
  const s = await stat(p).catch(() => undefined);
  return s === undefined ? undefined : s.isDirectory() ? 'dir' : 'file';
}

/** The inventory directory and its INI file, from a directory or a file path. */
export async function locateInventory(dirOrFile: string): Promise<{ dir: string; source: string }> {
  const target = path.resolve(dirOrFile);
  const kind = await kindOf(target);
  if (kind === undefined) {
    throw new KprovError('usage', `inventory ${dirOrFile} does not exist`, {
      hint: 'create one with: kprov init inventory/mycluster --hosts ADDR,ADDR,…',
    });
  }
  if (kind === 'file') return { dir: path.dirname(target), source: target };
  for (const name of INVENTORY_FILE_NAMES) {
    const candidate = path.join(target, name);
    // A directory or unreadable entry under the name is reported when it is read.
    if ((await kindOf(candidate)) !== undefined) return { dir: target, source: candidate };
  }
  throw new KprovError('inventory', `no inventory file: expected inventory.ini (or hosts.ini, hosts, hosts.yaml, hosts.yml)`, {
    location: { file: path.join(target, INVENTORY_FILE_NAMES[0]) },
    hint: 'create one with: kprov init DIR --hosts ADDR,ADDR,…',
  });
}

async function loadFiles(
  dir: string,
  sub: 'group_vars' | 'host_vars',
  exists: (name: string) => boolean,
  warnings: InventoryWarning[],
): Promise<Map<string, LoadedVarsFile[]>> {
  const found = await findVarsFiles(dir, sub);
  warnings.push(...found.warnings);
  const out = new Map<string, LoadedVarsFile[]>();
  for (const [name, refs] of found.byName) {
    if (!exists(name)) {
      for (const ref of refs) {
        warnings.push({
          code: 'unused-vars-file',
          message: `${sub}/${ref.written}: the inventory has no ${sub === 'group_vars' ? 'group' : 'host'} named ${name}; its variables are not used`,
          location: { file: ref.file },
        });
      }
      continue;
    }
    const files: LoadedVarsFile[] = [];
    for (const ref of refs) {
      const loaded = await loadVarsFile(ref.file);
      warnings.push(...loaded.warnings);
      files.push({ file: ref.file, vars: loaded.vars });
    }
    out.set(name, files);
  }
  return out;
}

interface Definition {
  key: string;
  value: unknown;
  location: VarDef['location'];
}

/** Every variable the inventory sets, in the order the files were read. */
function allDefinitions(
  ini: ParsedIni,
  groupFiles: Map<string, LoadedVarsFile[]>,
  hostFiles: Map<string, LoadedVarsFile[]>,
  extraVars: readonly ExtraVar[],
): Definition[] {
  const defs: Definition[] = [];
  for (const v of ini.groupVars) defs.push({ key: v.key, value: v.value, location: v.location });
  for (const h of ini.hosts) for (const v of h.vars) defs.push({ key: v.key, value: v.value, location: v.location });
  const groupNames = [...groupFiles.keys()].sort((a, b) => Number(b === GROUP.all) - Number(a === GROUP.all) || compareNatural(a, b));
  const files = [...groupNames.map((g) => groupFiles.get(g)!), ...hostFiles.values()];
  for (const list of files) for (const f of list) for (const v of f.vars) defs.push({ key: v.key, value: v.value, location: v.location });
  for (const v of extraVars) defs.push({ key: v.key, value: v.value, location: v.location });
  return defs;
}

/**
 * Variables kprov does not read, in two groups: Kubespray settings whose value makes kprov's
 * cluster differ from Kubespray's (first: the user must know), then names neither kprov nor
 * Kubespray has (likely typos, with a did-you-mean). Kubespray settings that change nothing are
 * left out (docs/kubespray.md lists them). With `strict`, both groups are errors, all at once.
 */
function unknownVariables(defs: readonly Definition[], strict: boolean, evaluated: (key: string, raw: unknown) => unknown): InventoryWarning[] {
  const reported = new Set<string>();
  const differs: InventoryWarning[] = [];
  const unknown: InventoryWarning[] = [];
  const at = (d: Definition) => (d.location ? { location: d.location } : {});
  for (const d of defs) {
    if (reported.has(d.key) || isKnownVariable(d.key) || d.key in VARIABLE_ALIASES) continue;
    const kubespray = kubesprayVariable(d.key);
    if (kubespray) {
      if (sameAsKubespray(kubespray, evaluated(d.key, d.value))) continue;
      reported.add(d.key);
      differs.push({ code: 'kubespray-differs', message: `${d.key}: a Kubespray setting kprov does not implement; your cluster will differ: ${kubespray.instead}`, ...at(d) });
      continue;
    }
    reported.add(d.key);
    if (d.key.startsWith('ansible_')) {
      unknown.push({ code: 'unknown-variable', message: `${d.key} is an Ansible variable kprov does not use`, ...at(d) });
    } else if (MAGIC_VARIABLES.has(d.key)) {
      unknown.push({ code: 'unknown-variable', message: `${d.key} is set by Ansible itself; the inventory's value is ignored`, ...at(d) });
    } else {
      const near = closestMatch(d.key, spellingCandidates());
      unknown.push({ code: 'unknown-variable', message: `unknown variable ${d.key}: neither kprov nor Kubespray uses it${near ? ` (did you mean ${near}?)` : ''}`, ...at(d) });
    }
  }
  const warnings = [...differs, ...unknown];
  if (strict && warnings.length > 0) {
    throwAll(
      warnings.map(
        (w) =>
          new KprovError('inventory', w.message, {
            ...(w.location ? { location: w.location } : {}),
            hint: '--strict: Kubespray settings kprov does not implement and unknown variables are errors; without --strict they are warnings',
          }),
      ),
    );
  }
  return warnings;
}

let candidates: string[] | undefined;
/** Names a typo may have meant: kprov's variables and Kubespray's. */
function spellingCandidates(): string[] {
  candidates ??= [...Object.keys(hostVarsSchema.shape), ...Object.keys(VARIABLE_ALIASES), ...kubesprayVariableNames()];
  return candidates;
}

function magicFor(hierarchy: Hierarchy, host: string, dir: string, source: string, groups: Record<string, string[]>): Record<string, unknown> {
  return {
    inventory_hostname: host,
    inventory_hostname_short: host.split('.')[0],
    inventory_dir: dir,
    inventory_file: source,
    group_names: hierarchy.groupsOf(host).filter((g) => g !== GROUP.all),
    groups,
  };
}

/** A value as JSON shows it: dates as ISO text, `!unsafe` strings as their text. */
function plain(value: unknown): unknown {
  if (value instanceof UnsafeText) return value.text;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** The variables `inventory show` lists: the inventory's own, evaluated, known ones typed by their schema. */
function displayVars(evaluator: Evaluator, host: string, defined: ReadonlyMap<string, VarDef>, typed: HostVars): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of [...defined.keys()].sort()) {
    if (isKnownVariable(key)) {
      const value = typed[key];
      if (value !== undefined) out[key] = plain(value);
      continue;
    }
    try {
      out[key] = plain(evaluator.value(host, key));
    } catch (err) {
      // A variable kprov does not use never fails loading: it is shown as written.
      if (!(err instanceof ExpressionError)) throw err;
      out[key] = plain(defined.get(key)!.value);
    }
  }
  return out;
}

/**
 * Loads, evaluates and validates an inventory. `dir` is the inventory directory (or its INI file).
 * Throws KprovError for anything wrong with it; warnings come back in `warnings`.
 */
export async function loadInventory(dir: string, options: LoadOptions = {}): Promise<Inventory> {
  const located = await locateInventory(dir);
  const extraVars = options.extraVars ?? [];
  const text = await readInventoryText(located.source);
  const ini = isYamlInventory(located.source) ? parseInventoryYaml(text, located.source) : parseInventoryIni(text, located.source);
  const hierarchy = buildHierarchy(ini);
  const warnings: InventoryWarning[] = [...hierarchy.warnings];
  warnings.push(...checkGroups(hierarchy, located.source));

  const groupFiles = await loadFiles(located.dir, 'group_vars', (g) => hierarchy.groups.has(g), warnings);
  const hostFiles = await loadFiles(located.dir, 'host_vars', (h) => hierarchy.hostLocations.has(h), warnings);

  const groups: Record<string, string[]> = {};
  for (const name of sortNatural(hierarchy.groups.keys())) groups[name] = sortNatural(hierarchy.membersInOrder(name));

  // Expressions see groups in definition order, as Ansible's `groups` (groups['etcd'][0] is the first listed).
  const groupsInOrder: Record<string, string[]> = {};
  for (const name of hierarchy.groups.keys()) groupsInOrder[name] = hierarchy.membersInOrder(name);

  const defined = new Map<string, Map<string, VarDef>>();
  const withDefaults = new Map<string, Map<string, VarDef>>();
  const scopes = new Map<string, EvalScope>();
  // One definition object per default, shared by all hosts, so the evaluator can reuse results.
  const defaults = ([...Object.entries(DEFAULTS), ...Object.entries(KUBESPRAY_ROLE_DEFAULTS), ...Object.entries(options.connectionDefaults ?? {})] as [string, unknown][]).map(
    ([key, value]): [string, VarDef] => [key, { value }],
  );
  for (const host of hierarchy.hosts) {
    const merged = mergeHostVariables({ ini, hierarchy, groupFiles, hostFiles, extraVars }, host);
    defined.set(host, merged);
    const all = new Map<string, VarDef>();
    for (const [key, def] of defaults) if (!merged.has(key)) all.set(key, def);
    for (const [key, def] of merged) all.set(key, def);
    withDefaults.set(host, all);
    scopes.set(host, { vars: all, magic: magicFor(hierarchy, host, located.dir, located.source, groupsInOrder) });
  }
  const evaluator = new Evaluator(scopes);
  // A Kubespray setting is judged by its value as Ansible would see it (its sample writes some as expressions).
  const evaluated = (key: string, raw: unknown): unknown => {
    const host = hierarchy.hosts.find((h) => defined.get(h)?.has(key));
    if (host === undefined) return raw;
    try {
      return evaluator.value(host, key);
    } catch {
      return raw;
    }
  };
  warnings.push(...unknownVariables(allDefinitions(ini, groupFiles, hostFiles, extraVars), options.strict === true, evaluated));

  const hostVars = new Map<string, HostVars>();
  const errors: KprovError[] = [];
  for (const host of hierarchy.hosts) hostVars.set(host, parseHostVars(evaluator, host, withDefaults.get(host)!, errors));
  throwAll(distinctErrors(errors));
  const cluster = clusterView({ hierarchy, hostVars, defs: withDefaults, inventoryDir: located.dir });
  checkVariables({ source: located.source, hierarchy, hostVars, defs: withDefaults, cluster });
  if (cluster.apiserver_loadbalancer_domain_name !== undefined && cluster.loadbalancer_apiserver === undefined) {
    const first = hierarchy.hosts.find((h) => withDefaults.get(h)?.get('apiserver_loadbalancer_domain_name')?.location);
    const location = first === undefined ? undefined : withDefaults.get(first)!.get('apiserver_loadbalancer_domain_name')!.location;
    warnings.push({
      message: 'apiserver_loadbalancer_domain_name has no effect without loadbalancer_apiserver (as in Kubespray): set loadbalancer_apiserver: {address: …, port: …} too',
      ...(location ? { location } : {}),
    });
  }

  const hosts: InventoryHost[] = hierarchy.hosts.map((name) => {
    const v = hostVars.get(name)!;
    return {
      name,
      address: v.ansible_host,
      ...(v.ip === undefined ? {} : { ip: v.ip }),
      ...(v.access_ip === undefined ? {} : { accessIp: v.access_ip }),
      groups: [...hierarchy.groupsOf(name)].sort(compareNatural),
      vars: displayVars(evaluator, name, defined.get(name)!, v),
    };
  });

  return {
    dir: located.dir,
    source: located.source,
    hosts,
    groups,
    cluster,
    hostVars(name: string): HostVars {
      const v = hostVars.get(name);
      if (!v) throw new KprovError('inventory', `no host named ${name} in the inventory`, { location: { file: located.source } });
      return v;
    },
    definedAt(name, key) {
      const defs = defined.get(name);
      const def = defs?.get(key);
      if (!defs || !def?.location) return undefined;
      // An alias stands in with its own definition object, so the spelling is the one sharing it.
      const alias = Object.keys(VARIABLE_ALIASES).find((a) => VARIABLE_ALIASES[a] === key && defs.get(a) === def);
      return { location: def.location, variable: alias ?? key };
    },
    warnings,
  };
}
