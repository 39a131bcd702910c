/**
 * Resolves a playbook against an inventory before anything runs: host patterns and --limit to
 * hosts, role names to roles, handler names to handlers, and checks --tags/--skip-tags against
 * the playbook's tags. Pure; every problem here is bad input (exit 2) and no host has been touched.
 */
import path from 'node:path';
import { KprovError } from '../errors.js';
import type { InventoryHost } from '../inventory/model.js';
import type { Handler, InventoryView, Role } from './contract.js';
import { selectHosts } from './patterns.js';
import { parseSerial, type Play, type Playbook, type PlayRole, type Serial } from './playbook.js';
import type { RoleRegistry } from './role-registry.js';
import { mayRunAnyTask, requireKnownTags, tagFilter, type TagFilter } from './tags.js';

export interface PlannedRole<R = unknown> {
  entry: PlayRole;
  role: Role<R>;
  /** Tags every task of this role carries in this play: play ∪ role entry ∪ role. */
  tags: string[];
  /** --tags/--skip-tags leave it a task: else it is not validated, prepared or listed. */
  selected: boolean;
}

export interface PlannedHandler<R = unknown> {
  handler: Handler<R>;
  role: string;
}

export interface PlannedPlay<R = unknown> {
  index: number;
  play: Play;
  hosts: InventoryHost[];
  roles: PlannedRole<R>[];
  /** Handlers of the play's roles by name, in declaration order (the order they run in). */
  handlers: Map<string, PlannedHandler<R>>;
}

/** A playbook resolved against an inventory; `R` is the run context its roles are written against. */
export interface RunPlan<R = unknown> {
  playbook: Playbook;
  inventory: InventoryView;
  plays: PlannedPlay<R>[];
  /** Every host some play targets, in inventory order. */
  hosts: InventoryHost[];
  filter: TagFilter;
  limit: string | undefined;
}

export interface PlanOptions {
  limit?: string | undefined;
  /**
   * Variables a play's `hosts:` may name, Kubespray's `hosts: "{{ node }}"` (remove-node.yml with
   * `-e node=node5`): `{{ name }}` or `{{ name | default('pattern') }}`, nothing else.
   */
  variables?: Readonly<Record<string, unknown>>;
  tags?: readonly string[];
  skipTags?: readonly string[];
}

export function planRun<R>(playbook: Playbook, inventory: InventoryView, registry: RoleRegistry<R>, options: PlanOptions = {}): RunPlan<R> {
  const limited =
    options.limit === undefined ? undefined : new Set(selectHosts(options.limit, inventory, { label: '--limit' }));
  if (limited && limited.size === 0) {
    throw new KprovError('usage', `--limit "${options.limit}" matches no host`);
  }
  const byName = new Map(inventory.hosts.map((h) => [h.name, h]));
  const filter = tagFilter(options.tags ?? [], options.skipTags ?? []);
  const plays = playbook.plays.map((play, index): PlannedPlay<R> => {
    const pattern = hostsPattern(play, options.variables ?? {});
    const names = selectHosts(pattern, inventory, { label: 'hosts', location: play.hostsLocation });
    const beyond = beyondLimit(play, inventory);
    const hosts = names.filter((n) => !limited || limited.has(n) || beyond.has(n)).map((n) => byName.get(n)!);
    const roles = play.roles.map((entry): PlannedRole<R> => {
      const role = registry.get(entry.name);
      if (!role) {
        const known = registry.names();
        throw new KprovError('config', `unknown role "${entry.name}" in play "${play.name}"`, {
          location: entry.location,
          hint: known.length > 0 ? `known roles: ${known.join(', ')}` : 'no roles are registered',
        });
      }
      const tags = unique([...play.tags, ...entry.tags, ...(role.tags ?? [])]);
      return { entry, role, tags, selected: mayRunAnyTask(tags, role.taskTags ?? [], filter) };
    });
    const serial = resolveSerial(play, options.variables ?? {});
    return { index, play: serial === play.serial ? play : { ...play, serial }, hosts, roles, handlers: collectHandlers(play, roles) };
  });
  checkTags(playbook, registry, options);
  const targeted = new Set(plays.flatMap((p) => p.hosts.map((h) => h.name)));
  if (targeted.size === 0) {
    throw new KprovError('usage', 'no play of this playbook targets any host', {
      location: { file: playbook.file },
      ...(options.limit !== undefined ? { hint: `--limit "${options.limit}" excludes every host the plays name` } : {}),
    });
  }
  return {
    playbook,
    inventory,
    plays,
    hosts: inventory.hosts.filter((h) => targeted.has(h.name)),
    filter,
    limit: options.limit,
  };
}

/** The hosts a play's `beyond_limit` pattern selects (they run the play whatever --limit says). */
function beyondLimit(play: Play, inventory: InventoryView): Set<string> {
  if (play.beyondLimit === undefined) return new Set();
  return new Set(selectHosts(play.beyondLimit, inventory, { label: 'beyond_limit', ...(play.beyondLimitLocation ? { location: play.beyondLimitLocation } : {}) }));
}

const HOSTS_EXPRESSION = /([!&]?)\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*default\(\s*(['"])(.*?)\3\s*\)\s*)?\}\}/g;

/** A play's `hosts:` with its `{{ variable }}` expressions replaced; an unset variable without a default is a usage error. */
export function hostsPattern(play: Play, variables: Readonly<Record<string, unknown>>): string {
  if (!play.hosts.includes('{{')) return play.hosts;
  const text = play.hosts.replace(HOSTS_EXPRESSION, (_, op: string, name: string, _q: string | undefined, fallback: string | undefined) => {
    const value = variables[name];
    const given = Array.isArray(value) ? value.map(String).join(',') : value === undefined || value === null ? '' : String(value).trim();
    // `!{{ node }}` with node=a,b excludes both: the operator applies to every name.
    const each = (list: string) => list.split(/[:,]/).map((t) => `${op}${t.trim()}`).join(':');
    if (given !== '') return each(given);
    if (fallback !== undefined) return each(fallback);
    throw new KprovError('usage', `play "${play.name}" runs on the hosts given by ${name}, and ${name} is not set`, {
      location: play.hostsLocation,
      hint: `name them: -e ${name}=HOST[,HOST]`,
    });
  });
  if (text.includes('{{')) {
    throw new KprovError('config', `play "${play.name}": hosts "${play.hosts}" uses an expression kprov does not evaluate there`, {
      location: play.hostsLocation,
      hint: "a play's hosts may name a variable: {{ node }} or {{ node | default('kube_node') }}",
    });
  }
  return text;
}

/**
 * A play's `serial:` as a count or a percentage: `"{{ serial | default(1) }}"` takes the variable
 * (`-e serial=2`), or the default when it is unset; anything else it gives is a usage error.
 */
export function resolveSerial(play: Play, variables: Readonly<Record<string, unknown>>): Serial | undefined {
  const serial = play.serial;
  if (!serial || !('variable' in serial)) return serial;
  const value = variables[serial.variable];
  const given = value === undefined || value === null || value === '' ? serial.fallback : String(value).trim();
  const where = play.serialLocation ?? play.location;
  if (given === undefined) {
    throw new KprovError('usage', `play "${play.name}" takes its batch size from ${serial.variable}, and ${serial.variable} is not set`, {
      location: where,
      hint: `set it: -e ${serial.variable}=2 (hosts per batch) or -e ${serial.variable}=30%`,
    });
  }
  if (/^[1-9][0-9]*$/.test(given)) return { count: Number(given) };
  if (/^(100|[1-9][0-9]?)%$/.test(given)) return parseSerial(given);
  throw new KprovError('usage', `play "${play.name}": ${serial.variable} is "${given}", not a host count or a percentage`, {
    location: where,
    hint: `-e ${serial.variable}=2 (hosts per batch) or -e ${serial.variable}=30%`,
  });
}

/**
 * Every tag a play, role entry, role or task of the playbook carries. Tasks are listed per host at
 * run time, so their own tags come from what each role declares (Role.taskTags); the engine
 * holds roles to that declaration. Roles the registry lacks are left to planRun to report.
 */
export function playbookTags(playbook: Playbook, registry: RoleRegistry): Set<string> {
  const tags = new Set<string>();
  for (const play of playbook.plays) {
    for (const t of play.tags) tags.add(t);
    for (const entry of play.roles) {
      const role = registry.get(entry.name);
      for (const t of [...entry.tags, ...(role?.tags ?? []), ...(role?.taskTags ?? [])]) tags.add(t);
    }
  }
  return tags;
}

/** Refuses --tags/--skip-tags values the playbook does not know (exit 2), naming its tags and the nearest one. */
export function checkTags(playbook: Playbook, registry: RoleRegistry, options: Pick<PlanOptions, 'tags' | 'skipTags'>): void {
  requireKnownTags({ tags: options.tags ?? [], skipTags: options.skipTags ?? [] }, playbookTags(playbook, registry), path.basename(playbook.file));
}

// Handler names are global within a play, as in Ansible: two roles must not declare the same one.
function collectHandlers<R>(play: Play, roles: readonly PlannedRole<R>[]): Map<string, PlannedHandler<R>> {
  const handlers = new Map<string, PlannedHandler<R>>();
  for (const { role, entry } of roles) {
    for (const handler of role.handlers ?? []) {
      const other = handlers.get(handler.name);
      if (other && other.role !== role.name) {
        throw new KprovError('config', `handler "${handler.name}" is declared by roles "${other.role}" and "${role.name}" in play "${play.name}"`, {
          location: entry.location,
        });
      }
      handlers.set(handler.name, { handler, role: role.name });
    }
  }
  return handlers;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
