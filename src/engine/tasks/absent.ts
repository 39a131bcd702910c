/** Desired state: these paths do not exist (what an earlier run wrote and the inventory no longer wants). */
import type { Change, Task } from '../contract.js';
import { statOf } from '../read-cache.js';
import { meta, requireAbsolute, type TaskMeta } from './file.js';

export interface AbsentOptions extends TaskMeta {
  name: string;
  /** Files or directories (removed with what they hold). */
  paths: readonly string[];
}

export interface AbsentChange extends Change {
  kind: 'file';
  action: 'remove';
}

export function absent(options: AbsentOptions): Task<AbsentChange> {
  return {
    name: options.name,
    ...meta(options),
    // Read ahead with the play's other reads: when nothing is there this costs no command.
    reads: () => ({ paths: options.paths }),
    async check(host, ctx) {
      const present: AbsentChange[] = [];
      for (const p of options.paths) {
        requireAbsolute(p);
        if (await statOf(host, p, ctx)) present.push({ kind: 'file', action: 'remove', path: p, summary: `remove ${p}` });
      }
      return present;
    },
    async apply(host, changes) {
      await host.run(['rm', '-rf', '--', ...changes.map((c) => c.path!)]);
    },
  };
}
