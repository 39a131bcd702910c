/**
 * `kprov apply <playbook>` and `kprov plan <playbook>` (= apply --dry-run). Everything the
 * command touches outside the engine comes in through ApplyDeps, so tests run it with fakes.
 */
import { Command } from 'commander';
import path from 'node:path';
import { z } from 'zod';
import { ExitCode, KprovError, formatLocation, type SourceLocation } from '../errors.js';
import { DEFAULT_CONCURRENCY, executePlan, type Clock } from '../engine/executor.js';
import { fanOut, type EventSink } from '../engine/events.js';
import { checkTags, planRun, type RunPlan } from '../engine/run-plan.js';
import { loadPlaybook, resolvePlaybookPath } from '../engine/playbook.js';
import { jsonLinesRenderer } from '../engine/render/json-lines.js';
import { listrRenderer, type TerminalStreams } from '../engine/render/listr.js';
import { plainRenderer } from '../engine/render/plain.js';
import type { Renderer } from '../engine/render/renderer.js';
import { openRunLog } from '../engine/render/run-log.js';
import { newRunId } from '../engine/run-id.js';
import type { RunHolder } from '../engine/run-holder.js';
import { holderAlive, hostLockStaleReason, thisProcessHolder } from './control-host.js';
import { commandArgv, commandLabel } from './apply-argv.js';
import { takeInventoryLock } from './inventory-lock.js';
import type { Interrupts } from './interrupts.js';
import { DEFAULT_GRACE_MS } from '../engine/run-stop.js';
import type { RoleRegistry } from '../engine/role-registry.js';
import { parseTagList } from '../engine/tags.js';
import type { InventoryHost } from '../inventory/model.js';
import type { ClusterRun } from '../cluster/run.js';
import type { HostFacts, InventoryView } from '../engine/contract.js';
import type { RemoteHost } from '../ssh/types.js';
import type { CliIO } from './io.js';
import { confirmPlays } from './confirm-plays.js';
import { setExitCode } from './exit-code.js';

export interface ApplyCommandOptions {
  /** A name in playbooks/ (`cluster`) or a path to a .yml file. */
  playbook: string;
  /** -i/--inventory as given (resolved by ApplyDeps.resolveInventoryDir). */
  inventory?: string | undefined;
  dryRun: boolean;
  limit?: string | undefined;
  tags: string[];
  skipTags: string[];
  concurrency: number;
  json: boolean;
  /** Ask once, before the run, for the SSH password of the first login (like Ansible's -k). */
  askPass?: boolean;
  /** Ansible's -e values as given (`k=v`, a JSON/YAML mapping, `@file`). */
  extraVars?: string[];
  /** Ansible's -u, -b, --become-user, --private-key: kprov's defaults for them, below the inventory's. */
  connection?: ConnectionOptions;
  /** Show each change's diff in apply output too (Ansible's --diff). */
  diff?: boolean;
  /** -v, -vv, -vvv: 1 read-ahead, 2 task starts, 3 SSH events. */
  verbosity?: number;
  /** Print the play hosts or tags and stop (Ansible's --list-hosts, --list-tags). */
  list?: 'hosts' | 'tags';
  /** Kubespray settings kprov does not implement, and unknown variables, are errors. */
  strict?: boolean;
  /** Plays that ask for confirmation (reset) go on without asking. */
  yes?: boolean;
}

export interface ConnectionOptions {
  user?: string;
  become?: boolean;
  becomeUser?: string;
  privateKey?: string;
}

/** How the command wants the inventory loaded. */
export interface InventoryLoadOptions {
  extraVars: readonly string[];
  connection: ConnectionOptions;
  /** Where relative `-e @file` and --private-key paths are found. */
  cwd: string;
  strict: boolean;
}

/** What the command needs of a loaded inventory. */
export interface LoadedInventory<R = unknown> extends InventoryView {
  readonly warnings: readonly { message: string; location?: SourceLocation }[];
  /** A host's value of a variable, extra vars included (a play's `confirm` variable). */
  hostVar(host: string, name: string): unknown;
  /** The cluster's variables, extra vars included: what a play's `hosts: "{{ node }}"` may name. */
  readonly clusterVars: Readonly<Record<string, unknown>>;
  /** Builds the run context the roles see (a ClusterRun for the built-in roles), once per run. */
  createRun(options: { dryRun: boolean }): R;
}

export interface HostConnector {
  connect(host: InventoryHost): Promise<RemoteHost>;
  closeAll(): Promise<void>;
}

export interface ConnectorSetup {
  concurrency: number;
  /** The password typed for --ask-pass, offered when no key or stored password logs in. */
  password?: () => Promise<string | undefined>;
  /** Something the user should see that is not a failure (a host key pinned on first use…). */
  notice(message: string, host?: string): void;
  /** -vvv: every SSH event becomes a notice (connections, logins, key distribution). */
  verboseSsh?: boolean;
}

export interface ApplyDeps<R = unknown> {
  io: CliIO;
  playbooksDir: string;
  roles: RoleRegistry<R>;
  resolveInventoryDir(option: string | undefined): Promise<string>;
  loadInventory(dir: string, options: InventoryLoadOptions): Promise<LoadedInventory<R>>;
  createConnector(inventory: LoadedInventory<R>, setup: ConnectorSetup): HostConnector;
  clock: Clock;
  /**
   * Runs the same command where the inventory's hosts are reachable (a lab inventory's hosts
   * exist only inside the lab's network namespace) and returns its exit code, or undefined when
   * this process is already the right place.
   */
  runElsewhere?(inventoryDir: string, argv: string[]): Promise<number | undefined>;
  /** Where listr2 draws when io.isTTY (without it, plain lines are printed). */
  terminal?: TerminalStreams;
  gatherFacts?: (host: RemoteHost) => Promise<HostFacts>;
  /** Reads a password without echo from the terminal; undefined when there is no terminal. */
  askPassword?: () => Promise<string | undefined>;
  /** Asks a yes/no question on the terminal; absent when there is no terminal. */
  askConfirmation?: (question: string) => Promise<boolean>;
  /** This process as the holder of the run's locks (default: its PID on this host). */
  runHolder?(runId: string, command: string, now: Date): Promise<RunHolder>;
  /** Whether a lock's holder still runs; `unknown` when it ran on another control host. */
  holderAlive?(holder: RunHolder): Promise<boolean | 'unknown'>;
  /** When another run's lock on a host may be taken over (default: control-host.ts). */
  hostLockStaleReason?(held: RunHolder | undefined, ageSeconds: number): Promise<string | undefined>;
  /** SIGINT/SIGTERM for the run (interrupts.ts); without it, signals keep their default effect. */
  watchInterrupts?(graceMs: number): Interrupts;
}

/**
 * Runs apply/plan and returns the exit code: 0 ok, 1 a host failed or was unreachable, 130
 * interrupted. Bad input, and another run holding the inventory or a host, throw KprovError (exit 2).
 */
export async function runApplyCommand<R>(options: ApplyCommandOptions, deps: ApplyDeps<R>): Promise<number> {
  const { io } = deps;
  const playbookPath = await resolvePlaybookPath(options.playbook, deps.playbooksDir, io.cwd);
  const playbook = await loadPlaybook(playbookPath);
  // Before anything else (a lab inventory re-runs the command elsewhere): a typo in --tags is bad input.
  checkTags(playbook, deps.roles, options);
  const inventoryDir = await deps.resolveInventoryDir(options.inventory);
  const delegated = await deps.runElsewhere?.(inventoryDir, commandArgv(options, playbookPath, inventoryDir, io.cwd));
  if (delegated !== undefined) return delegated;
  // From here this process runs the plays: a signal stops them cleanly (see interrupts.ts).
  const interrupts = deps.watchInterrupts?.(DEFAULT_GRACE_MS);
  try {
    const inventory = await deps.loadInventory(inventoryDir, { extraVars: options.extraVars ?? [], connection: options.connection ?? {}, cwd: io.cwd, strict: options.strict === true });
    const plan = planRun(playbook, inventory, deps.roles, { limit: options.limit, tags: options.tags, skipTags: options.skipTags, variables: inventory.clusterVars });
    if (options.list) {
      for (const line of options.list === 'hosts' ? listHosts(plan) : listTags(plan)) io.out(line);
      return 0;
    }
    // Before any lock or connection: a run that is not confirmed changes nothing anywhere.
    if (!options.dryRun) await confirmPlays(plan, { yes: options.yes === true, hostVar: (h, n) => inventory.hostVar(h, n), ...(deps.askConfirmation ? { ask: deps.askConfirmation } : {}) });
    const runId = newRunId();
    // One run at a time per cluster; a plan changes nothing and takes no lock.
    const holder = await (deps.runHolder ?? thisProcessHolder)(runId, commandLabel(options, playbookPath, deps.playbooksDir), new Date(deps.clock.now()));
    const lock = options.dryRun ? undefined : await takeInventoryLock(inventory.dir, holder, { alive: deps.holderAlive ?? holderAlive, now: () => deps.clock.now() });
    if (lock) interrupts?.beforeForcedExit(() => lock.release());
    try {
      const prepared = { playbookPath, inventory, plan, runId, holder, lockWarnings: lock?.warnings ?? [] };
      return await runLocked(options, deps, prepared, interrupts?.signal);
    } finally {
      lock?.release();
    }
  } finally {
    interrupts?.dispose();
  }
}

interface Prepared<R> {
  playbookPath: string;
  inventory: LoadedInventory<R>;
  plan: RunPlan<R>;
  runId: string;
  holder: RunHolder;
  lockWarnings: readonly string[];
}

async function runLocked<R>(options: ApplyCommandOptions, deps: ApplyDeps<R>, prepared: Prepared<R>, signal: AbortSignal | undefined): Promise<number> {
  const { io } = deps;
  const { playbookPath, inventory, plan, runId } = prepared;
  // Asked before any progress is drawn: a prompt in the middle of listr2's output would be lost.
  let password: string | undefined;
  if (options.askPass) {
    if (!deps.askPassword) throw new KprovError('usage', '--ask-pass needs a terminal to read the password from');
    password = await deps.askPassword();
  }

  const renderer = chooseRenderer(options, deps);
  let sink: EventSink = renderer.sink;
  const notice = (message: string, host?: string) =>
    sink({ type: 'warning', time: new Date(deps.clock.now()).toISOString(), runId, message, ...(host ? { host } : {}) });
  const connector = deps.createConnector(inventory, {
    concurrency: options.concurrency,
    notice,
    ...((options.verbosity ?? 0) >= 3 ? { verboseSsh: true } : {}),
    ...(password !== undefined ? { password: async () => password } : {}),
  });
  const log = openRunLog(inventory.dir, new Date(deps.clock.now()), runId);
  sink = fanOut(log.sink, renderer.sink);
  try {
    const result = await executePlan(plan, {
      dryRun: options.dryRun,
      concurrency: options.concurrency,
      connector: { connect: (h) => connector.connect(h), closeAll: () => connector.closeAll() },
      emit: sink,
      runId,
      playbookLabel: relativeTo(io.cwd, playbookPath),
      clock: deps.clock,
      warnings: [...prepared.lockWarnings, ...inventory.warnings.map((w) => (w.location ? `${formatLocation(w.location)}: ${w.message}` : w.message))],
      ...(deps.gatherFacts ? { gatherFacts: deps.gatherFacts } : {}),
      run: inventory.createRun({ dryRun: options.dryRun }),
      ...(options.dryRun ? {} : { hostLock: { holder: prepared.holder, staleReason: deps.hostLockStaleReason ?? hostLockStaleReason } }),
      ...(signal ? { signal } : {}),
    });
    await renderer.done();
    if (!options.json) io.out(`run log: ${relativeTo(io.cwd, log.path)}`);
    // Another run holds a host: bad input's exit code, after the run has said what it did.
    if (result.refusedBy) throw result.refusedBy;
    return result.status === 'ok' ? ExitCode.ok : result.status === 'interrupted' ? ExitCode.interrupted : ExitCode.hostFailed;
  } finally {
    log.close();
  }
}

function chooseRenderer<R>(options: ApplyCommandOptions, deps: ApplyDeps<R>): Renderer {
  if (options.json) return jsonLinesRenderer((line) => deps.io.out(line));
  // Diffs and the details of -v are lines, not a progress tree.
  const detail = { diff: options.diff === true, verbosity: options.verbosity ?? 0 };
  if (deps.io.isTTY && deps.terminal && !detail.diff && detail.verbosity === 0) return listrRenderer(deps.terminal);
  return plainRenderer((line) => deps.io.out(line), detail);
}

/** Ansible's --list-hosts: each play's hosts after --limit. */
function listHosts<R>(plan: RunPlan<R>): string[] {
  return plan.plays.flatMap((p) => [`play #${p.index + 1} (${p.play.hosts}): ${p.play.name}`, `  hosts (${p.hosts.length}):`, ...p.hosts.map((h) => `    ${h.name}`)]);
}

/** Ansible's --list-tags: each play's tags (its own, its roles' and their tasks'). */
function listTags<R>(plan: RunPlan<R>): string[] {
  return plan.plays.flatMap((p) => {
    const tags = [...new Set(p.roles.flatMap((r) => [...r.tags, ...(r.role.taskTags ?? [])]))].sort();
    return [`play #${p.index + 1} (${p.play.hosts}): ${p.play.name}`, `  TASK TAGS: [${tags.join(', ')}]`];
  });
}

function relativeTo(cwd: string, p: string): string {
  const rel = path.relative(cwd, p);
  return rel === '' ? '.' : rel.startsWith('..') ? p : rel;
}

const concurrencySchema = z.coerce.number().int().min(1).max(1000);

function parseConcurrency(value: string): number {
  const parsed = concurrencySchema.safeParse(value);
  if (!parsed.success) throw new KprovError('usage', `--concurrency "${value}" is not a whole number from 1 to 1000`);
  return parsed.data;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

interface RawOptions {
  inventory?: string;
  dryRun?: boolean;
  check?: boolean;
  limit?: string;
  tags: string[];
  skipTags: string[];
  concurrency: number;
  forks?: number;
  json?: boolean;
  askPass?: boolean;
  extraVars: string[];
  become?: boolean;
  becomeUser?: string;
  user?: string;
  privateKey?: string;
  diff?: boolean;
  verbose: number;
  listHosts?: boolean;
  listTags?: boolean;
  strict?: boolean;
  yes?: boolean;
  removeSshKey?: boolean;
}

/** The playbooks kprov ships, as `apply --help` and `plan --help` list them (Kubespray's names). */
export const SHIPPED_PLAYBOOKS = `
Playbooks (playbooks/, Kubespray's names):
  cluster          bare hosts to a verified cluster; a re-run changes only what differs
  scale            add the new hosts of the inventory (--limit NEW): the others only get routes
  upgrade-cluster  a running cluster to the inventory's kube_version, host by host, rolled back on failure
  remove-node      take hosts out (-e node=NAME[,NAME]): drain, etcd member, reset, Node deleted
  reset            remove everything kprov put on the hosts (asks first; --yes)
  check            pods on every node reach each other, Services and the cluster DNS answer
`;

function addRunOptions(cmd: Command): Command {
  return cmd
    .addHelpText('after', SHIPPED_PLAYBOOKS)
    .argument('<playbook>', 'a playbook name from playbooks/ (e.g. cluster) or a path to a .yml file')
    .option('-i, --inventory <dir>', 'inventory directory (default: $KPROV_INVENTORY, else the one directory under ./inventory)')
    .option('-l, --limit <pattern>', 'only these hosts: a host pattern such as node1:node2, kube_node:!kube_control_plane')
    .option('-t, --tags <tags>', 'only tasks with these tags (comma-separated, repeatable)', collect, [])
    .option('--skip-tags <tags>', 'skip tasks with these tags (comma-separated, repeatable)', collect, [])
    .option('--concurrency <n>', 'hosts worked on at once', parseConcurrency, DEFAULT_CONCURRENCY)
    .option('--json', 'print events as JSON lines instead of progress')
    .option('-k, --ask-pass', 'ask for the SSH password of the first login (hosts without the cluster key yet)')
    // Ansible's options where they mean the same thing.
    .option('-e, --extra-vars <vars>', 'variables above every inventory file: key=value …, a JSON/YAML mapping, or @file (repeatable)', collect, [])
    .option('-u, --user <user>', 'the SSH user where the inventory sets no ansible_user')
    .option('-b, --become', 'become root with sudo where the inventory sets no ansible_become')
    .option('--become-user <user>', 'the user to become where the inventory sets no ansible_become_user')
    .option('--private-key <file>', 'the SSH private key where the inventory sets no ansible_ssh_private_key_file')
    .option('-f, --forks <n>', 'the same as --concurrency', parseConcurrency)
    .option('-C, --check', 'the same as --dry-run (kprov plan)')
    .option('-D, --diff', "show each change's diff in apply output too")
    .option('-v, --verbose', '-v read-ahead per host, -vv also each task as it starts, -vvv also SSH events', (_: string, n: number) => n + 1, 0)
    .option('--list-hosts', "list each play's hosts (after --limit) and stop")
    .option('--list-tags', "list each play's tags and stop")
    .option('--strict', 'Kubespray settings kprov does not implement, and unknown variables, are errors (all at once)')
    .option('--yes', 'do not ask before plays that undo things (reset, remove-node); the same as -e reset_confirmation=yes or -e delete_nodes_confirmation=yes')
    .option('--remove-ssh-key', 'reset: also remove the cluster SSH key from the hosts\' authorized_keys (-e reset_remove_ssh_key=true)');
}

/** The apply options of the raw commander values (the dry-run switch is the caller's). */
function applyOptions(playbook: string, raw: RawOptions, dryRun: boolean): ApplyCommandOptions {
  const connection: ConnectionOptions = {
    ...(raw.user !== undefined ? { user: raw.user } : {}),
    ...(raw.become ? { become: true } : {}),
    ...(raw.becomeUser !== undefined ? { becomeUser: raw.becomeUser } : {}),
    ...(raw.privateKey !== undefined ? { privateKey: raw.privateKey } : {}),
  };
  return {
    playbook,
    inventory: raw.inventory,
    dryRun: dryRun || raw.check === true,
    limit: raw.limit,
    tags: parseTagList(raw.tags),
    skipTags: parseTagList(raw.skipTags),
    concurrency: raw.forks ?? raw.concurrency,
    json: raw.json === true,
    askPass: raw.askPass === true,
    // A playbook's own switch, carried as the variable its role reads.
    extraVars: raw.removeSshKey ? [...raw.extraVars, 'reset_remove_ssh_key=true'] : raw.extraVars,
    connection,
    diff: raw.diff === true,
    verbosity: raw.verbose,
    ...(raw.listHosts ? { list: 'hosts' as const } : raw.listTags ? { list: 'tags' as const } : {}),
    strict: raw.strict === true,
    yes: raw.yes === true,
  };
}

export { commandArgv } from './apply-argv.js';

export type ApplyDepsFactory<R> = (io: CliIO) => Promise<ApplyDeps<R>>;

async function defaultDeps(io: CliIO): Promise<ApplyDeps<ClusterRun>> {
  const { defaultApplyDeps } = await import('./apply-deps.js');
  return defaultApplyDeps(io);
}

export function registerApply(program: Command, io: CliIO, makeDeps: ApplyDepsFactory<unknown> = defaultDeps): void {
  const run = async (playbook: string, raw: RawOptions, cmd: Command, dryRun: boolean) => {
    const code = await runApplyCommand(applyOptions(playbook, raw, dryRun), await makeDeps(io));
    setExitCode(cmd, code);
  };

  // `kprov --help` lists them too (the top-level help loads every command's registrar).
  program.addHelpText('after', SHIPPED_PLAYBOOKS);
  addRunOptions(
    program
      .command('apply')
      .description('bring hosts to the state a playbook describes (only what differs is changed)')
      .option('--dry-run', 'show what would change, with diffs; change nothing (same as kprov plan)'),
  ).action((playbook: string, raw: RawOptions, cmd: Command) => run(playbook, raw, cmd, raw.dryRun === true));

  addRunOptions(
    program.command('plan').description('show per host what `apply` would change, with diffs; change nothing'),
  ).action((playbook: string, raw: RawOptions, cmd: Command) => run(playbook, raw, cmd, true));
}
