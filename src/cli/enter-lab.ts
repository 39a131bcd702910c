/**
 * The first thing bin/kprov.js does: a command that reaches a lab inventory's hosts (their
 * addresses exist only inside the lab's network namespace) is run again there at once, before
 * the CLI loads anything. Node cannot enter a namespace itself (setns(2) needs a native addon),
 * so this process stays as the parent that passes signals on (signal-forward.ts); what it must
 * not do is load the command's module graph (X.509, zod, ssh2, the engine: ~0.5 s) only to find
 * out it has to start another node. So it reads argv and lab.json with Node's own modules and
 * nothing else, and execs node under `ip netns exec` with the same arguments, working directory
 * and environment; the child then resolves the same inventory and runs the command.
 *
 * Anything this reading does not recognise with certainty falls through to the CLI, which
 * re-executes the same way after full parsing (lab-reexec.ts), or reports the error itself.
 */
import { readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { LAB_NAME_PATTERN, labNamespace } from '../lab/names.js';
import { runPassingSignals } from '../lab/signal-forward.js';

/**
 * Options that take a value, per command reaching hosts or the lab's mirror (download), kept equal
 * to the commands' own by a unit test.
 */
export const VALUE_OPTIONS: ReadonlyMap<string, readonly string[]> = new Map(Object.entries({
  apply: ['-i', '--inventory', '-l', '--limit', '-t', '--tags', '--skip-tags', '--concurrency', '-e', '--extra-vars', '-u', '--user', '--become-user', '--private-key', '-f', '--forks'],
  'etcd backup': ['-i', '--inventory', '-o', '--output'],
  'etcd restore': ['-i', '--inventory'],
  etcdctl: ['-i', '--inventory', '--host'],
  download: ['-i', '--inventory'],
}));

export interface CommandRequest {
  /** `apply` (also for `plan`), `etcd backup`, `etcd restore`, `etcdctl`, `download`. */
  command: string;
  /** `-i`'s value as given; undefined when absent. */
  inventory?: string;
}

const stat = (p: string): Stats | undefined => statSync(p, { throwIfNoEntry: false });

/**
 * The command `argv` runs and its `-i`, when it is one that reaches a cluster's hosts; undefined
 * for any other command, for help, and for anything ambiguous.
 */
export function commandRequest(argv: readonly string[]): CommandRequest | undefined {
  const [first, second] = argv;
  const command = first === 'apply' || first === 'plan' ? 'apply' : first === 'etcd' ? `etcd ${second}` : first;
  const values = command === undefined ? undefined : VALUE_OPTIONS.get(command);
  if (command === undefined || values === undefined) return undefined;
  const shortValues = new Set(values.filter((o) => /^-[a-zA-Z]$/.test(o)).map((o) => o[1]!));
  let inventory: string | undefined;
  const rest = argv.slice(command.split(' ').length);
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!;
    if (token === '--') break;
    if (token === '-h' || token === '--help') return undefined;
    // `etcd backup --list` lists local files: nothing to reach.
    if (command === 'etcd backup' && token === '--list') return undefined;
    let name: string | undefined;
    let value: string | undefined;
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      name = eq < 0 ? token : token.slice(0, eq);
      if (!values.includes(name)) continue;
      value = eq < 0 ? rest[++i] : token.slice(eq + 1);
    } else if (token.startsWith('-') && token.length > 1) {
      // Short flags may be grouped (`-vvv`, `-bi DIR`); the first one taking a value takes the rest.
      for (let c = 1; c < token.length; c++) {
        if (!shortValues.has(token[c]!)) continue;
        name = `-${token[c]}`;
        value = c + 1 < token.length ? token.slice(c + 1) : rest[++i];
        break;
      }
      if (name === undefined) continue;
    } else {
      continue;
    }
    if (value === undefined) return undefined;
    if (name === '-i' || name === '--inventory') inventory = value;
  }
  return { command, ...(inventory !== undefined ? { inventory } : {}) };
}

/**
 * The inventory directory as the CLI resolves it (resolve-inventory.ts): `-i`, else
 * $KPROV_INVENTORY, else the one directory under ./inventory other than `sample`; an INI file
 * named is its directory. Undefined whenever the CLI would report an error instead.
 */
export function inventoryDirOf(option: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const named = option ?? env['KPROV_INVENTORY'];
  if (named !== undefined && named !== '') {
    const target = path.resolve(cwd, named);
    const s = stat(target);
    return s === undefined ? undefined : s.isDirectory() ? target : path.dirname(target);
  }
  const root = path.join(cwd, 'inventory');
  let names: string[];
  try {
    names = readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== 'sample' && !e.name.startsWith('.'))
      .map((e) => e.name);
  } catch {
    return undefined;
  }
  return names.length === 1 ? path.join(root, names[0]!) : undefined;
}

/** The lab namespace an inventory's lab.json names, when it is well formed. */
export function labNamespaceOf(inventoryDir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(inventoryDir, 'lab.json'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const lab = JSON.parse(text) as { name?: unknown; namespace?: unknown };
    const ok = typeof lab.name === 'string' && LAB_NAME_PATTERN.test(lab.name) && lab.namespace === labNamespace(lab.name);
    return ok ? labNamespace(lab.name as string) : undefined;
  } catch {
    return undefined;
  }
}

/** True when this process is outside `namespace` and the namespace exists. */
function outsideExisting(namespace: string): boolean {
  const target = stat(`/run/netns/${namespace}`);
  const self = stat('/proc/self/ns/net');
  return target !== undefined && self !== undefined && !(self.dev === target.dev && self.ino === target.ino);
}

/**
 * When `argv` is a command reaching the hosts of a running lab this process is outside of, runs
 * node with this script and `argv` inside the lab namespace, passing SIGINT/SIGTERM on, and
 * resolves with its exit code; otherwise resolves undefined and the CLI runs as usual.
 */
export async function runInLabFirst(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<number | undefined> {
  const request = commandRequest(argv);
  if (request === undefined) return undefined;
  const dir = inventoryDirOf(request.inventory, env, cwd);
  const namespace = dir === undefined ? undefined : labNamespaceOf(dir);
  const script = process.argv[1];
  if (namespace === undefined || script === undefined || !outsideExisting(namespace)) return undefined;
  // `ip netns exec` execs node in its own place: the child's PID is node's, and signals passed on reach it.
  // When ip cannot be started the CLI tries again after full parsing and reports it in its own words.
  return runPassingSignals('ip', ['netns', 'exec', namespace, process.execPath, ...process.execArgv, script, ...argv], {
    env,
    onSpawnError: (err) => err,
  }).catch(() => undefined);
}
