/**
 * The host lock: a run holds `/run/kprov.lock` on every host it changes, so two control machines
 * with copies of one inventory (whose local locks know nothing of each other) cannot interleave
 * on a host. `mkdir` is the atomic step; `owner` inside holds the run's holder (run-holder.ts) as
 * one JSON line, and its mtime is refreshed by every later read-ahead of the run. /run is a tmpfs:
 * a reboot frees the lock.
 *
 * It costs no round trip of its own on a run that reads ahead: the lock command wraps the
 * read-ahead (`wrap`), takes the lock (or refreshes it, every few minutes of a long run) and then
 * `exec`s the read in the same shell; read-aheads in between go unwrapped.
 * Before a host's first change (an apply or a handler) with no read-ahead before it, it is taken
 * by a command of its own (`ensure`); at the end of the run, released (`release`).
 */
import { describeHolder, parseRunHolder, type RunHolder } from './run-holder.js';
import { HostStepError, tailLines } from './errors.js';
import { KprovError } from '../errors.js';
import { shScript } from '../ssh/quote.js';
import type { ExecResult, RemoteHost } from '../ssh/types.js';
import type { CommandWrap } from './read-cache.js';

export const HOST_LOCK_DIR = '/run/kprov.lock';
export const HOST_LOCK_NAME = 'kprov-lock';
/** A held lock is refreshed by the first read-ahead after this long (most runs never need to). */
export const HOST_LOCK_REFRESH_MS = 5 * 60_000;

export interface HostLockOptions {
  /** Written into each host's lock. */
  holder: RunHolder;
  /**
   * Why a lock held by another run may be taken over — its run is known to be gone, or it was not
   * refreshed for too long — or undefined to refuse. `held` is undefined when the lock names no
   * readable holder.
   */
  staleReason(held: RunHolder | undefined, ageSeconds: number): Promise<string | undefined>;
}

/**
 * $1 mode (take | refresh | takeover | release), $2 lock directory, $3 our run id, $4 our holder
 * line, $5 the holder line a takeover expects to replace; the rest is the command to run after it
 * (the read-ahead). Prints one `kprov-lock …` line first; exits 75 without running the command
 * when another run holds the lock.
 */
export const HOST_LOCK_SCRIPT = `mode=$1 d=$2 id=$3 rec=$4 expect=$5
shift 5
owner() { head -n 1 "$d/owner" 2>/dev/null; }
ours() { case $(owner) in *"\\"runId\\":\\"$id\\""*) return 0;; esac; return 1; }
age() { now=$(date +%s); m=$(stat -c %Y "$d/owner" 2>/dev/null || stat -c %Y "$d" 2>/dev/null || echo "$now"); echo $((now - m)); }
held() { printf 'kprov-lock held %s %s\\n' "$(age)" "$(owner)"; exit 75; }
put() { printf '%s\\n' "$rec" >"$d/owner" || { echo 'kprov-lock error cannot write the owner file'; exit 76; }; }
case $mode in
take)
  if mkdir -m 0700 "$d" 2>/dev/null; then put; echo 'kprov-lock taken'
  elif ours; then touch "$d/owner"; echo 'kprov-lock taken'
  else held; fi ;;
refresh)
  if ours; then touch "$d/owner"; echo 'kprov-lock taken'
  else printf 'kprov-lock lost %s\\n' "$(owner)"; exit 75; fi ;;
takeover)
  if [ -d "$d" ] && [ "$(owner)" != "$expect" ]; then held; fi
  if [ -d "$d" ]; then mv -T "$d" "$d.stale.$$" && rm -rf "$d.stale.$$"; fi
  if mkdir -m 0700 "$d" 2>/dev/null; then put; echo 'kprov-lock taken'; else held; fi ;;
release)
  if ours; then rm -rf "$d"; fi
  echo 'kprov-lock released' ;;
esac
if [ $# -gt 0 ]; then exec "$@"; fi`;

type LockLine =
  | { state: 'taken' | 'released' }
  | { state: 'held'; ageSeconds: number; owner: string }
  | { state: 'lost'; owner: string }
  | { state: 'error'; message: string };

export function hostLockArgv(mode: 'take' | 'refresh' | 'takeover' | 'release', holder: RunHolder, expect: string, inner: readonly string[]): string[] {
  return shScript(HOST_LOCK_SCRIPT, [mode, HOST_LOCK_DIR, holder.runId, JSON.stringify(holder), expect, ...inner], HOST_LOCK_NAME);
}

/** The script's line off the front of `stdout`, and the rest (the wrapped command's output). */
export function splitLockLine(stdout: string): { line: LockLine | undefined; rest: string } {
  const end = stdout.indexOf('\n');
  const first = end < 0 ? stdout : stdout.slice(0, end);
  const rest = end < 0 ? '' : stdout.slice(end + 1);
  const m = /^kprov-lock (taken|released|held|lost|error)(?: (.*))?$/.exec(first);
  if (!m) return { line: undefined, rest: stdout };
  const [, state, detail = ''] = m;
  if (state === 'taken' || state === 'released') return { line: { state }, rest };
  if (state === 'lost') return { line: { state, owner: detail }, rest };
  if (state === 'error') return { line: { state, message: detail }, rest };
  const space = detail.indexOf(' ');
  const age = Number(space < 0 ? detail : detail.slice(0, space));
  return { line: { state: 'held', ageSeconds: Number.isFinite(age) ? age : 0, owner: space < 0 ? '' : detail.slice(space + 1) }, rest };
}

/** One host's lock for the run. */
export class HostLock {
  private held = false;
  private refreshedAt = 0;
  private lastLine: LockLine | undefined;

  constructor(
    private readonly host: string,
    private readonly options: HostLockOptions,
    private readonly warn: (message: string) => void,
    private readonly now: () => number,
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  /**
   * Takes (or, once held and due, refreshes) the lock in front of a command the run sends anyway;
   * undefined when there is nothing to do (held, refreshed lately).
   */
  wrap(): CommandWrap | undefined {
    if (this.held && this.now() - this.refreshedAt < HOST_LOCK_REFRESH_MS) return undefined;
    this.lastLine = undefined;
    const mode = this.held ? 'refresh' : 'take';
    return {
      argv: (inner) => hostLockArgv(mode, this.options.holder, '', inner),
      unwrap: (result) => {
        const { line, rest } = splitLockLine(result.stdout);
        this.lastLine = line;
        return { ...result, stdout: rest };
      },
    };
  }

  /**
   * After a wrapped command: `ran` when it ran under the lock; `again` when it did not run (or may
   * not have) and the lock is now held, so the caller sends it again. Throws when another run
   * holds the lock, or took it from this run.
   */
  async settle(remote: RemoteHost): Promise<'ran' | 'again'> {
    const line = this.lastLine;
    if (line?.state === 'taken') {
      this.markHeld();
      return 'ran';
    }
    if (line === undefined) {
      // The host did not answer as the script does (an odd shell): take it on its own.
      await this.ensure(remote);
      return 'again';
    }
    await this.resolve(remote, line);
    return 'again';
  }

  /** Holds the lock before the host's first change; a command of its own when not held yet. */
  async ensure(remote: RemoteHost): Promise<void> {
    if (this.held) return;
    const line = await this.send(remote, 'take', '');
    if (line.state === 'taken') this.markHeld();
    else await this.resolve(remote, line);
  }

  async release(remote: RemoteHost): Promise<void> {
    if (!this.held) return;
    await this.send(remote, 'release', '');
    this.held = false;
  }

  private async resolve(remote: RemoteHost, line: LockLine): Promise<void> {
    if (line.state === 'lost') {
      throw this.busy(parseRunHolder(line.owner), `another kprov run took over ${HOST_LOCK_DIR} on ${this.host} from this one`);
    }
    if (line.state !== 'held') throw new HostStepError(this.host, `cannot take the host lock ${HOST_LOCK_DIR}: ${line.state === 'error' ? line.message : line.state}`, []);
    const holder = parseRunHolder(line.owner);
    const stale = await this.options.staleReason(holder, line.ageSeconds);
    if (stale === undefined) throw this.busy(holder, `another kprov run holds ${HOST_LOCK_DIR} on ${this.host}`, line.ageSeconds);
    const again = await this.send(remote, 'takeover', line.owner);
    if (again.state !== 'taken') {
      // Someone else took it over first.
      throw this.busy(again.state === 'held' ? parseRunHolder(again.owner) : undefined, `another kprov run holds ${HOST_LOCK_DIR} on ${this.host}`);
    }
    this.markHeld();
    this.warn(`took over ${HOST_LOCK_DIR}: ${stale}`);
  }

  private markHeld(): void {
    this.held = true;
    this.refreshedAt = this.now();
  }

  private async send(remote: RemoteHost, mode: 'take' | 'takeover' | 'release', expect: string): Promise<LockLine> {
    const result: ExecResult = await remote.exec(hostLockArgv(mode, this.options.holder, expect, []), { timeoutMs: 30_000 });
    const { line } = splitLockLine(result.stdout);
    if (line) return line;
    const output = tailLines(result.stderr.trim() !== '' ? result.stderr : result.stdout, 12);
    throw new HostStepError(this.host, `cannot ${mode === 'release' ? 'release' : 'take'} the host lock ${HOST_LOCK_DIR} (exit status ${result.code})`, output);
  }

  private busy(holder: RunHolder | undefined, what: string, ageSeconds?: number): KprovError {
    const who = holder ? `: ${describeHolder(holder, new Date(this.now()))}` : ` (it names no readable holder${ageSeconds !== undefined ? `, ${ageSeconds} s old` : ''})`;
    return new KprovError('lock', `${what}${who}`, {
      host: this.host,
      hint: `wait for that run to end; a lock whose run is gone is taken over by the next run once that is known (or the lock is old), or remove it on the host: rm -r ${HOST_LOCK_DIR}`,
    });
  }
}
