/**
 * This control host as a lock holder: who the running process is, and whether a holder recorded
 * on this host is still running (by PID and start time, so a reused PID does not keep a dead
 * run's lock alive).
 */
import { hostname, userInfo } from 'node:os';
import type { RunHolder } from '../engine/run-holder.js';
import { isRunning, processRef } from '../lab/processes.js';

function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

export async function thisProcessHolder(runId: string, command: string, now: Date): Promise<RunHolder> {
  const ref = await processRef(process.pid);
  return {
    runId,
    user: userName(),
    host: hostname(),
    pid: process.pid,
    ...(ref ? { pidStart: ref.startTime } : {}),
    since: now.toISOString(),
    command,
  };
}

/** Whether the holder's process still runs; only answerable for holders on this host. */
export async function holderAlive(holder: RunHolder): Promise<boolean | 'unknown'> {
  if (holder.host !== hostname()) return 'unknown';
  if (holder.pidStart !== undefined) return isRunning({ pid: holder.pid, startTime: holder.pidStart });
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A host lock is refreshed by every read-ahead of its run (each play, on each host): one not
 * refreshed for this long has no run behind it, whichever control host took it.
 */
export const HOST_LOCK_STALE_AFTER_S = 3600;

/** A lock that names no readable holder is being written for a moment at most. */
const UNREADABLE_HOST_LOCK_S = 60;

/** When another run's lock on a host may be taken over (HostLockOptions.staleReason). */
export async function hostLockStaleReason(held: RunHolder | undefined, ageSeconds: number): Promise<string | undefined> {
  if (ageSeconds > HOST_LOCK_STALE_AFTER_S) return `it was not refreshed for ${Math.floor(ageSeconds / 60)} min${held ? ` (run ${held.runId}, pid ${held.pid} on ${held.host})` : ''}`;
  if (!held) return ageSeconds > UNREADABLE_HOST_LOCK_S ? `it named no readable holder for ${ageSeconds} s` : undefined;
  return (await holderAlive(held)) === false ? `run ${held.runId} (pid ${held.pid} on ${held.host}, ${held.command}) is gone` : undefined;
}
