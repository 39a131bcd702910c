/**
 * Handlers an earlier run left owed on a host (see pending.ts), turned into what the rest of the
 * engine already understands: a task whose change says so and which notifies the handler. So a
 * plan lists the restart as a change on that host, an apply runs it with the play's handlers
 * (rolling ones one host at a time, each healthy before the next), and the recap counts it.
 */
import type { Change, Task } from './contract.js';
import type { RemoteHost } from '../ssh/types.js';
import { pendingRecordPath, readPending, type PendingRecord } from './pending.js';
import type { ReadCache } from './read-cache.js';

/** The record paths the read-ahead stats for these handlers. */
export function pendingPaths(handlers: Iterable<string>): string[] {
  return [...handlers].map(pendingRecordPath);
}

/**
 * The records found for `handlers`: their existence comes from the read-ahead (no command), their
 * content is read only where one exists.
 */
export async function owedHandlers(host: RemoteHost, handlers: Iterable<string>, cache: ReadCache): Promise<PendingRecord[]> {
  const owed: PendingRecord[] = [];
  for (const handler of handlers) {
    if ((await cache.stat(host, pendingRecordPath(handler))) === undefined) continue;
    owed.push({ ...(await readPending(host, handler)), handler });
  }
  return owed;
}

function describe(changed: readonly string[]): string {
  if (changed.length === 0) return '';
  const shown = changed.slice(0, 3).join(', ');
  return `: ${shown}${changed.length > 3 ? ` and ${changed.length - 3} more` : ''} changed`;
}

/** `restart kube-apiserver (pending from an interrupted run: /etc/…/kube-apiserver.service changed)`. */
export function pendingSummary(record: PendingRecord): string {
  return `${record.handler} (pending from an interrupted run${describe(record.changed)})`;
}

/** A task that reports the owed handler as a change and notifies it; applying it changes nothing itself. */
export function resumeTask(record: PendingRecord): Task {
  const change: Change = { kind: 'service', summary: pendingSummary(record) };
  return {
    name: `pending: ${record.handler}`,
    notify: [record.handler],
    async check() {
      return [change];
    },
    async apply() {
      // The handler does the work; its record stays until it has.
    },
  };
}
