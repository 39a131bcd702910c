/**
 * A run's id: in every event, in the run log's name and in the locks the run holds, so a line of
 * a log, a lock left on a host and the run that wrote them can be matched up.
 */
import { randomBytes } from 'node:crypto';

/** 8 hex digits: unique enough for the runs of one cluster, short enough to read aloud. */
export const RUN_ID_PATTERN = /^[0-9a-f]{8}$/;

export function newRunId(): string {
  return randomBytes(4).toString('hex');
}
