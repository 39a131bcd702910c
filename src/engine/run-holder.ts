/**
 * Who holds a lock: the run (its id), the process and control host it runs on, since when, and
 * the command. Written as one JSON line into the inventory's lock file and into each host's lock,
 * read back (and validated here) when another run finds the lock taken.
 */
import { z } from 'zod';
import { RUN_ID_PATTERN } from './run-id.js';

export const runHolderSchema = z.object({
  runId: z.string().regex(RUN_ID_PATTERN),
  user: z.string(),
  /** The control host's name (os.hostname()). */
  host: z.string().min(1),
  pid: z.number().int().positive(),
  /** When the process started (field 22 of /proc/PID/stat), so a reused PID is not taken for it. */
  pidStart: z.string().optional(),
  /** ISO 8601 UTC. */
  since: z.string().datetime(),
  command: z.string(),
});

export type RunHolder = z.infer<typeof runHolderSchema>;

/** The holder in a lock's text, or undefined when the text is not one (garbled, half-written). */
export function parseRunHolder(text: string): RunHolder | undefined {
  try {
    const parsed = runHolderSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** `pid 1234 on host ctl1 since 10:05:03 UTC (kprov apply cluster)`; the date too when not today. */
export function describeHolder(holder: RunHolder, now: Date): string {
  const since = new Date(holder.since);
  const day = since.toISOString().slice(0, 10);
  const time = since.toISOString().slice(11, 19);
  const when = day === now.toISOString().slice(0, 10) ? time : `${day} ${time}`;
  return `pid ${holder.pid} on host ${holder.host} since ${when} UTC (${holder.command})`;
}
