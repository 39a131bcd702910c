/**
 * Everything a run reports, as plain serialisable data. The executor emits these; renderers
 * (listr2, plain lines, JSON lines) and the run log consume them. Library code never prints.
 */
import type { ChangeKind } from './contract.js';
import type { FailureInfo } from './errors.js';

/**
 * Outcome of a task, a handler run, or a host in a play. `interrupted`: the run was stopped while
 * it was under way (its step in flight was abandoned after the grace, or its remaining steps never
 * started).
 */
export type Status = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable' | 'interrupted';

/** A change as reported: only these fields leave the task (helpers may keep content privately). */
export interface ChangeRecord {
  kind: ChangeKind;
  summary: string;
  path?: string;
  diff?: string;
}

interface Base {
  /** ISO 8601 UTC time the event was emitted. */
  time: string;
  /** The run this event belongs to (also in the run log's name): runs never share an id. */
  runId: string;
}

export interface RunStartEvent extends Base {
  type: 'run:start';
  playbook: string;
  inventory: string;
  dryRun: boolean;
  plays: string[];
  /** Every host some play targets (after --limit), in inventory order. */
  hosts: string[];
  limit?: string;
  tags: string[];
  skipTags: string[];
  concurrency: number;
}

/**
 * A role's `validate` refused the run before any host was contacted (a template with a flag
 * v1.13 lacks, a mode kprov does not have): nothing follows this event, the run is bad input.
 */
export interface RunInvalidEvent extends Base {
  type: 'run:invalid';
  play: string;
  role: string;
  error: FailureInfo;
}

export interface PlayStartEvent extends Base {
  type: 'play:start';
  play: string;
  index: number;
  hosts: string[];
  serial?: number;
}

export interface PlaySkipEvent extends Base {
  type: 'play:skip';
  play: string;
  index: number;
  reason: string;
}

export interface HostStartEvent extends Base {
  type: 'host:start';
  play: string;
  host: string;
}

/**
 * The tasks a host will run in this play (after tags), known before the first one starts: after
 * the read-ahead, which may add a `pending: <handler>` task for a handler an earlier run left owed.
 */
export interface HostTasksEvent extends Base {
  type: 'host:tasks';
  play: string;
  host: string;
  tasks: { role: string; name: string }[];
}

/**
 * What the engine read ahead for the host's tasks in this play, with one command: how many
 * paths, units and probes, and how long it took. `exitCode` other than 0: the read failed and the
 * tasks read the host themselves.
 */
export interface HostReadEvent extends Base {
  type: 'host:read';
  play: string;
  host: string;
  paths: number;
  units: number;
  commands: number;
  exitCode: number;
  durationMs: number;
}

export interface TaskStartEvent extends Base {
  type: 'task:start';
  play: string;
  host: string;
  role: string;
  task: string;
  index: number;
}

export interface TaskFinishEvent extends Base {
  type: 'task:finish';
  play: string;
  host: string;
  role: string;
  task: string;
  index: number;
  status: Status;
  durationMs: number;
  /** What changed (or, in a dry run, would change). */
  changes: ChangeRecord[];
  error?: FailureInfo;
  /** Why a task was skipped (a failure elsewhere with any_errors_fatal). */
  reason?: string;
}

export interface HostFinishEvent extends Base {
  type: 'host:finish';
  play: string;
  host: string;
  status: Status;
  durationMs: number;
  /** The step that failed, e.g. `etcd: write etcd unit`, `connect` or `gather facts`. */
  step?: string;
  error?: FailureInfo;
  reason?: string;
}

/** Handlers about to run at the end of a play (or of a serial batch). */
export interface HandlersStartEvent extends Base {
  type: 'handlers:start';
  play: string;
  runs: { handler: string; role: string; hosts: string[]; rolling: boolean }[];
}

export interface HandlerStartEvent extends Base {
  type: 'handler:start';
  play: string;
  host: string;
  handler: string;
}

export interface HandlerFinishEvent extends Base {
  type: 'handler:finish';
  play: string;
  host: string;
  handler: string;
  /** `skipped` with a reason: nothing to do on this host (e.g. the unit already runs with every new file). */
  status: Status;
  durationMs: number;
  error?: FailureInfo;
  reason?: string;
}

export interface PlayFinishEvent extends Base {
  type: 'play:finish';
  play: string;
  index: number;
  status: Status;
  durationMs: number;
  /** A failure of the play as a whole (a role's prepare step). */
  error?: FailureInfo;
}

export interface WarningEvent extends Base {
  type: 'warning';
  message: string;
  host?: string;
  play?: string;
}

/** Ansible's PLAY RECAP: per host, how many tasks ended how. */
export interface HostRecap {
  host: string;
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
  skipped: number;
}

/**
 * The run is stopping early: no new play, host, task or handler starts, and steps in flight get
 * `graceMs` to end. `interrupted`: SIGINT/SIGTERM (the caller's signal); `refused`: another run
 * holds a host's lock.
 */
export interface RunStopEvent extends Base {
  type: 'run:stop';
  kind: 'interrupted' | 'refused';
  reason: string;
  graceMs: number;
}

/** A host the run did not finish: how far it got, and what the next run will do there. */
export interface HostLeftBehind {
  host: string;
  /**
   * `interrupted`: the run was stopped in the middle of the host's work; `stopped`: the run stopped
   * (a failure elsewhere, an interrupt) between the host's plays.
   */
  why: 'failed' | 'unreachable' | 'interrupted' | 'stopped';
  /** Where: `play: step` that failed, or where the interrupt found the host. */
  at?: string;
  /** Plays whose tasks all ran on the host in this run. */
  done: string[];
  /** Plays of the host that did not run, or not to the end: the next apply does them. */
  pending: string[];
  /** Handlers notified on the host that did not run, as `play: handler`. */
  handlers: string[];
}

export interface RunFinishEvent extends Base {
  type: 'run:finish';
  status: 'ok' | 'failed' | 'interrupted';
  /** Why the run stopped before its end (an interrupt, a failure that stops the playbook). */
  stopped?: string;
  dryRun: boolean;
  durationMs: number;
  recap: HostRecap[];
  /** Every host left behind (empty when the run finished everywhere). */
  leftBehind: HostLeftBehind[];
}

export type RunEvent =
  | RunStartEvent
  | RunInvalidEvent
  | PlayStartEvent
  | PlaySkipEvent
  | HostStartEvent
  | HostTasksEvent
  | HostReadEvent
  | TaskStartEvent
  | TaskFinishEvent
  | HostFinishEvent
  | HandlersStartEvent
  | HandlerStartEvent
  | HandlerFinishEvent
  | PlayFinishEvent
  | WarningEvent
  | RunStopEvent
  | RunFinishEvent;

export type RunEventType = RunEvent['type'];

/** An event without its time stamp and run id, as the executor builds it. */
export type EventBody = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, 'time' | 'runId'> : never) : never;

export type EventSink = (event: RunEvent) => void;

/** Sends each event to every sink, in order. */
export function fanOut(...sinks: EventSink[]): EventSink {
  return (event) => {
    for (const sink of sinks) sink(event);
  };
}
