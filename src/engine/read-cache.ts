/**
 * What the engine read from one host for one play, so that the tasks' checks cost no round trip
 * of their own on a host where nothing differs. Filled by one command before the first task
 * (prefetch.ts), consulted by the helpers' `check` through `ctx.cache`, and trimmed after every
 * `apply` to what that apply cannot have altered. Closed when the play's tasks are done: handlers
 * and anything later read the host directly.
 */
import type { Change, ProbeCommand, RemoteReads } from './contract.js';
import { HostCommandError } from '../ssh/errors.js';
import { commandLine } from '../ssh/quote.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';
import { isUnitFilePath } from './host-state.js';
import { newToken, parsePrefetch, prefetchArgv, prefetchTimeoutMs, probeKey, type PrefetchRequest } from './prefetch.js';
import { statPath, type PathStat } from './tasks/remote-stat.js';
import { unitState, type UnitState } from './tasks/unit-state.js';

/** What one prefetch read, for events and benchmarks. */
export interface PrefetchReport {
  paths: number;
  units: number;
  commands: number;
  /** Exit status of the read; anything but 0 means the tasks read the host themselves. */
  exitCode: number;
}

/**
 * A command that rides along with the read-ahead (the host lock): it wraps the read's argv and
 * takes its own output off the result, handing back the read's.
 */
export interface CommandWrap {
  argv(inner: readonly string[]): string[];
  unwrap(result: ExecResult): ExecResult;
}

// Changes whose effect on the host is only the file at their path (and its directories).
const PATH_KINDS = new Set(['file', 'directory', 'binary']);

export class ReadCache {
  private readonly stats = new Map<string, PathStat | undefined>();
  private readonly units = new Map<string, UnitState>();
  private readonly commands = new Map<string, ExecResult>();
  private closed = false;

  /** Every read the tasks declared, deduplicated (a path, unit or command is read once). */
  static request(reads: readonly RemoteReads[]): PrefetchRequest {
    const commands = new Map<string, ProbeCommand>();
    for (const r of reads) for (const c of r.commands ?? []) if (!commands.has(probeKey(c))) commands.set(probeKey(c), c);
    return {
      paths: [...new Set(reads.flatMap((r) => r.paths ?? []))],
      units: [...new Set(reads.flatMap((r) => r.units ?? []))],
      commands: [...commands.values()],
    };
  }

  /** Reads everything in `request` with one command (`wrap`ped when given). A read that fails leaves the cache empty. */
  async prefetch(host: RemoteHost, request: PrefetchRequest, wrap?: CommandWrap): Promise<PrefetchReport> {
    const token = newToken();
    const argv = prefetchArgv(request, token);
    const raw = await host.exec(wrap ? wrap.argv(argv) : argv, { timeoutMs: prefetchTimeoutMs(request) });
    const result = wrap ? wrap.unwrap(raw) : raw;
    const report = { paths: request.paths.length, units: request.units.length, commands: request.commands.length, exitCode: result.code };
    if (result.code !== 0 || this.closed) return report;
    const read = parsePrefetch(result.stdout, request, token);
    for (const [p, s] of read.stats) this.stats.set(p, s);
    for (const [u, s] of read.units) this.units.set(u, s);
    for (const [k, r] of read.commands) this.commands.set(k, r);
    return report;
  }

  /** The path's stat (undefined: absent), from the cache or read now. */
  async stat(host: RemoteHost, path: string): Promise<PathStat | undefined> {
    if (this.stats.has(path)) return this.stats.get(path);
    const stat = await statPath(host, path);
    if (!this.closed) this.stats.set(path, stat);
    return stat;
  }

  async unit(host: RemoteHost, unit: string): Promise<UnitState> {
    const known = this.units.get(unit);
    if (known) return known;
    const state = await unitState(host, unit);
    if (!this.closed) this.units.set(unit, state);
    return state;
  }

  /**
   * The probe's result. A successful one read ahead stays until a change drops it; a failed one
   * is handed out once, so a task that waits for the probe to succeed asks the host next time.
   */
  async exec(host: RemoteHost, command: ProbeCommand): Promise<ExecResult> {
    const key = probeKey(command);
    const known = this.commands.get(key);
    if (known) {
      if (known.code !== 0) this.commands.delete(key);
      return known;
    }
    return execProbe(host, command);
  }

  /**
   * Forgets what `changes` may have altered: the changed paths with their directories and
   * contents, every unit when a unit file changed, every probe result; anything else (a started
   * service, a command) may have changed anything, so all of it.
   */
  invalidate(changes: readonly Change[]): void {
    changes = changes.filter((c) => c.elsewhere !== true);
    if (changes.length === 0) return;
    this.commands.clear();
    for (const c of changes) {
      if (c.path === undefined || !PATH_KINDS.has(c.kind)) {
        this.clear();
        return;
      }
      this.dropPath(c.path);
      if (isUnitFilePath(c.path)) this.units.clear();
    }
  }

  /** The play's tasks are done: from now on everything is read from the host. */
  close(): void {
    this.closed = true;
    this.clear();
  }

  private clear(): void {
    this.stats.clear();
    this.units.clear();
    this.commands.clear();
  }

  private dropPath(changed: string): void {
    for (const p of [...this.stats.keys()]) {
      if (p === changed || p.startsWith(`${changed}/`) || changed.startsWith(`${p}/`)) this.stats.delete(p);
    }
  }
}

// The helpers read through these, so a check works with and without the engine's cache.
type CacheHolder = { readonly cache?: ReadCache } | undefined;

export function statOf(host: RemoteHost, path: string, ctx?: CacheHolder): Promise<PathStat | undefined> {
  return ctx?.cache ? ctx.cache.stat(host, path) : statPath(host, path);
}

export function unitOf(host: RemoteHost, unit: string, ctx?: CacheHolder): Promise<UnitState> {
  return ctx?.cache ? ctx.cache.unit(host, unit) : unitState(host, unit);
}

function execProbe(host: RemoteHost, command: ProbeCommand): Promise<ExecResult> {
  return host.exec(command.argv, { ...(command.env ? { env: command.env } : {}), ...(command.timeoutMs !== undefined ? { timeoutMs: command.timeoutMs } : {}) });
}

/** Runs a read-only probe (or takes its result from the cache); resolves on any exit status. */
export function probe(host: RemoteHost, command: ProbeCommand, ctx?: CacheHolder): Promise<ExecResult> {
  return ctx?.cache ? ctx.cache.exec(host, command) : execProbe(host, command);
}

/** Like probe, but a non-zero exit status rejects with HostCommandError. */
export async function probeRun(host: RemoteHost, command: ProbeCommand, ctx?: CacheHolder): Promise<ExecResult> {
  const result = await probe(host, command, ctx);
  if (result.code !== 0) throw new HostCommandError({ host: host.name, command: commandLine(command.argv), ...result });
  return result;
}
