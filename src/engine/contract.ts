/**
 * The contract between the engine and roles. A role is a module that, for one host, returns the
 * tasks that describe the desired state; the engine runs `check` on every task and `apply` only
 * where `check` found something to change. Handlers run at the end of a play on the hosts where a
 * task that notified them changed something, in this run or in an interrupted earlier one.
 *
 * `R` is the run context: one typed value built once per playbook run by whoever wires roles to
 * the engine (the CLI builds a ClusterRun). The engine only hands it through, so it never needs
 * to know what roles share.
 */
import type { InventoryHost } from '../inventory/model.js';
import type { HostFacts } from '../ssh/facts.js';
import type { ExecOptions, RemoteHost } from '../ssh/types.js';
import type { ReadCache } from './read-cache.js';

export type { HostFacts };

/** What sort of thing a change touches; renderers pick a marker from it. */
export type ChangeKind = 'file' | 'directory' | 'binary' | 'service' | 'command' | 'sysctl' | 'module' | 'custom';

/** One difference between a host and its desired state, as `check` found it. */
export interface Change {
  kind: ChangeKind;
  /** One line, e.g. `update /etc/kubernetes/kubelet.conf (mode 0600)`. */
  summary: string;
  /** The remote path this change writes: lets the engine know which files changed in this run. */
  path?: string;
  /** Unified diff for file content, secrets already masked. */
  diff?: string;
  /**
   * The change is made elsewhere (on a host the task delegates to, or through an API), so nothing
   * the play read from this host goes stale: the read-ahead keeps it (a `custom` change without
   * a path otherwise drops everything read so far).
   */
  elsewhere?: boolean;
}

/** The hosts and groups of the inventory, as the engine sees them. */
export interface InventoryView {
  /** The inventory directory (run logs, credentials and PKI live under it). */
  readonly dir: string;
  readonly hosts: readonly InventoryHost[];
  /** Canonical group name → host names, `all` included. */
  readonly groups: Readonly<Record<string, readonly string[]>>;
}

/** Renders `templates/<relativePath>` strictly (undefined variables are errors). */
export type TemplateRenderer = (relativePath: string, vars: Record<string, unknown>) => string;

/** What this run has done to one host so far (shared by every task on the host). */
export interface HostRunState {
  /** Remote paths changed in this run (in a dry run: that would have changed), in order. */
  readonly changedPaths: readonly string[];
  /** Systemd unit files changed since the last daemon-reload of this run. */
  unitFilesPendingReload(): string[];
  /** Records that `systemctl daemon-reload` ran (or, in a dry run, would have). */
  markDaemonReloaded(): void;
  /** Records that this run started or restarted `unit` (or, in a dry run, would have), after every path changed so far. */
  markUnitStarted(unit: string): void;
  /** This run started `unit` (at any point). */
  startedInRun(unit: string): boolean;
  /**
   * This run started `unit` and no path has changed on the host since: the process already read
   * every file the run wrote, so a restart notified by those files would only cost time.
   */
  startedSinceLastChange(unit: string): boolean;
}

/**
 * A read-only command whose result a task's `check` uses (a health probe, `ip route show` …).
 * Declared in `Task.reads`, it runs once with every other read of the host's play.
 */
export interface ProbeCommand extends Pick<ExecOptions, 'env' | 'timeoutMs'> {
  argv: readonly string[];
  /**
   * Run it ahead only while this unit is active: a health probe of a stopped service would only
   * wait for its own timeout (the task then runs it itself, when it needs to).
   */
  whenActive?: string;
}

/**
 * What a task's `check` will read on the host. The engine reads everything the tasks of a host's
 * play declare in one command before the first task, and `check` finds it in `ctx.cache`; a
 * change made by an `apply` drops what it may have altered, so later checks read afresh.
 */
export interface RemoteReads {
  /** Paths to stat (type, mode, owner, group) and, for regular files, to hash (sha256). */
  paths?: readonly string[];
  /** systemd units to `systemctl show`. */
  units?: readonly string[];
  commands?: readonly ProbeCommand[];
}

/** Everything a role and its tasks may read about the run, for one host. */
export interface TaskContext<R = unknown> {
  readonly host: InventoryHost;
  /** The host's merged inventory variables. */
  readonly vars: Readonly<Record<string, unknown>>;
  readonly inventory: InventoryView;
  /**
   * The hosts of the current play (after --limit) still in the run, in inventory order: a host
   * that failed in an earlier play is left out (Ansible's `ansible_play_hosts`).
   */
  readonly playHosts: readonly InventoryHost[];
  /** The run context (see the module comment). */
  readonly run: R;
  readonly dryRun: boolean;
  readonly state: HostRunState;
  readonly render: TemplateRenderer;
  /**
   * What the engine already read from the host for this play's tasks (see `Task.reads`); absent
   * outside the engine's task loop, when helpers read the host directly.
   */
  readonly cache?: ReadCache;
  /** The host's facts, read over its connection on first use and kept for the run. */
  facts(): Promise<HostFacts>;
  /**
   * Ansible's `delegate_to`: the run's connection to another inventory host, for a step about
   * this host that must run there (kubectl drain of a worker runs on a control-plane host).
   * Absent outside the engine's task loop.
   */
  delegateTo?(host: string): Promise<RemoteHost>;
  /** Reports something the user should know without failing the host. */
  warn(message: string): void;
}

/** A unit of desired state on one host. `C` lets a helper carry its own data from check to apply. */
export interface Task<C extends Change = Change, R = unknown> {
  name: string;
  tags?: readonly string[];
  /** Handlers to run at the end of the play when this task changed something. */
  notify?: readonly string[];
  /** What `check` reads on the host, so the engine can read it together with the other tasks' reads. */
  reads?(ctx: TaskContext<R>): RemoteReads | Promise<RemoteReads>;
  /** Reads the host and returns what differs from the desired state; must not modify anything. */
  check(host: RemoteHost, ctx: TaskContext<R>): Promise<C[]>;
  /** Makes exactly the changes `check` returned (never called in a dry run or with none). */
  apply(host: RemoteHost, changes: readonly C[], ctx: TaskContext<R>): Promise<void>;
}

/** How a handler's run ended on a host: it changed something, or found nothing to do. */
export type HandlerResult = { status: 'changed' } | { status: 'skipped'; reason: string };

/**
 * Runs at the end of a play on hosts where a task notified it and changed something, in this run
 * or in an earlier one that ended before the handler had run (its record is kept on the host).
 */
export interface Handler<R = unknown> {
  name: string;
  /**
   * The systemd unit it restarts, if it restarts one: written into the handler's pending record
   * (see pending.ts), so that a check of the host can say which service runs on old files.
   */
  unit?: string;
  /**
   * One host at a time across the play's hosts, each followed by `waitHealthy`: how restarts of
   * control-plane services must run so that never all of them are down at once.
   */
  rolling?: boolean;
  /**
   * Why running it on this host would change nothing (e.g. the unit was started after every change
   * that notified it), or undefined. Asked before `run`, and instead of it in a dry run.
   */
  skipReason?(ctx: TaskContext<R>): string | undefined;
  /** Returns nothing or `{ status: 'changed' }` when it changed something, `skipped` when it found nothing to do. */
  run(host: RemoteHost, ctx: TaskContext<R>): Promise<HandlerResult | void>;
  /** Bounded wait until the host is healthy again (also after a skipped run); throws when it is not. */
  waitHealthy?(host: RemoteHost, ctx: TaskContext<R>): Promise<void>;
}

/** What a role's prepare step sees: the play as a whole, before any host runs. */
export interface PlayContext<R = unknown> {
  readonly play: string;
  readonly hosts: readonly InventoryHost[];
  readonly inventory: InventoryView;
  readonly run: R;
  readonly dryRun: boolean;
  readonly render: TemplateRenderer;
  warn(message: string): void;
}

export interface Role<R = unknown> {
  name: string;
  /** Tags every task of the role carries. */
  tags?: readonly string[];
  /**
   * Tags some of its tasks carry on their own (Task.tags). Tasks are listed per host at run time,
   * so this is how `--tags` knows them before any host is contacted; a task with a tag the role
   * does not declare (here, in `tags` or in its play) fails the host.
   */
  taskTags?: readonly string[];
  handlers?: readonly Handler<R>[];
  /**
   * Checks the role's input for the play (renders and flag-checks its templates, refuses modes
   * kprov does not have): run for every play of the playbook before the first play starts, so a
   * failure is bad input and no host has been contacted. Pure: reads nothing remote, writes nothing.
   */
  validate?(ctx: PlayContext<R>): void | Promise<void>;
  /** Runs once per play before any host (local work such as issuing certificates). */
  prepare?(ctx: PlayContext<R>): Promise<void>;
  /** The tasks for one host, in order. */
  tasks(ctx: TaskContext<R>): readonly Task<Change, R>[] | Promise<readonly Task<Change, R>[]>;
}
