/**
 * One run at a time per cluster: `<inventory>/.kprov.lock`, created exclusively (O_EXCL) and
 * holding the run's holder record as one JSON line. A lock whose holder ran on this control host
 * and is gone is taken over with a warning; one from another control host is only reported (this
 * host cannot tell whether that run is alive). `kprov plan` takes none.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { KprovError } from '../errors.js';
import { describeHolder, parseRunHolder, type RunHolder } from '../engine/run-holder.js';

export const LOCK_FILE = '.kprov.lock';

/** A lock file that cannot be read as a holder is being written for this long at most. */
const UNREADABLE_GRACE_MS = 10_000;

export interface InventoryLock {
  path: string;
  /** Stale locks taken over on the way (say so in the run). */
  warnings: string[];
  /** Removes the lock if it is still this run's; safe to call more than once, and from a signal handler. */
  release(): void;
}

export interface LockJudge {
  /** Whether a holder is still running: `unknown` for holders on another control host. */
  alive(holder: RunHolder): Promise<boolean | 'unknown'>;
  now(): number;
}

export async function takeInventoryLock(inventoryDir: string, holder: RunHolder, judge: LockJudge): Promise<InventoryLock> {
  const file = path.join(inventoryDir, LOCK_FILE);
  const text = `${JSON.stringify(holder)}\n`;
  const warnings: string[] = [];
  // Each round either creates the lock, refuses, or removes one stale lock; a few are plenty.
  for (let round = 0; round < 5; round++) {
    if (createExclusive(file, text)) return { path: file, warnings, release: () => releaseIfOurs(file, holder.runId) };
    const seen = readIfThere(file);
    if (seen === undefined) continue;
    const judged = await judgeLock(file, seen, judge);
    if (judged.stale === undefined) throw busy(file, parseRunHolder(seen), judged.alive, judge.now());
    if (removeIfUnchanged(file, seen, holder.runId)) warnings.push(`took over ${file}: ${judged.stale}`);
  }
  throw new KprovError('lock', `could not take ${file}: it kept changing (several kprov runs starting at once?)`);
}

/**
 * Creates the lock with its holder already in it: written aside, then hard-linked into place
 * (link(2) fails if the lock exists), so a run that finds the lock always reads who holds it.
 * On a file system without hard links, the lock is created exclusively and then written.
 */
function createExclusive(file: string, text: string): boolean {
  const aside = `${file}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(aside, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new KprovError('io', `cannot create the lock ${file}: ${(err as Error).message}`);
  }
  try {
    linkSync(aside, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    return createThenWrite(file, text);
  } finally {
    unlinkSafe(aside);
  }
}

function createThenWrite(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new KprovError('io', `cannot create the lock ${file}: ${(err as Error).message}`);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Whether the lock in `seen` may be taken over (`stale` says why), and whether its run is alive. */
async function judgeLock(file: string, seen: string, judge: LockJudge): Promise<{ stale?: string; alive: boolean | 'unknown' }> {
  const held = parseRunHolder(seen);
  if (!held) {
    const ageMs = judge.now() - (statSafe(file) ?? judge.now());
    return ageMs > UNREADABLE_GRACE_MS ? { stale: `it held no readable holder for ${Math.round(ageMs / 1000)} s`, alive: false } : { alive: 'unknown' };
  }
  const alive = await judge.alive(held);
  return alive === false ? { stale: `run ${held.runId} (pid ${held.pid}, ${held.command}) is gone`, alive } : { alive };
}

function statSafe(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Moves the stale lock aside and removes it, unless it changed since it was judged (another run
 * took it over first): then it is put back and the caller looks again.
 */
function removeIfUnchanged(file: string, seen: string, runId: string): boolean {
  const aside = `${file}.stale-${runId}`;
  try {
    renameSync(file, aside);
  } catch {
    return false;
  }
  const moved = readIfThere(aside);
  if (moved !== seen) {
    try {
      linkSync(aside, file);
    } catch {
      // A newer lock is already in place: it stands.
    }
    unlinkSafe(aside);
    return false;
  }
  unlinkSafe(aside);
  return true;
}

function unlinkSafe(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}

function releaseIfOurs(file: string, runId: string): void {
  const seen = readIfThere(file);
  if (seen !== undefined && parseRunHolder(seen)?.runId === runId) unlinkSafe(file);
}

function busy(file: string, held: RunHolder | undefined, alive: boolean | 'unknown', now: number): KprovError {
  if (!held) {
    return new KprovError('lock', `another kprov run holds ${file} (it is being written)`, { hint: 'wait a moment and run again' });
  }
  const hint =
    alive === 'unknown'
      ? `it was taken on another control host (${held.host}): wait for that run, and remove ${file} by hand only once you know it is gone`
      : `wait for it to end, or stop it: kill ${held.pid} (run ${held.runId})`;
  return new KprovError('lock', `another kprov run holds ${file}: ${describeHolder(held, new Date(now))}`, { hint });
}
