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
