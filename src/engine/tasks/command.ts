/**
 * A command that runs only when its guard says the desired state is missing: `creates` (a path
 * the command makes) or `unless` (a read-only probe that exits 0 when nothing is needed).
 * A guard is required, so a re-run stays a no-op.
 */
import type { Change, Task } from '../contract.js';
import { shellJoin } from '../errors.js';
import { probe, statOf } from '../read-cache.js';
import { meta, requireAbsolute, type TaskMeta } from './file.js';

interface CommandBase extends TaskMeta {
  name: string;
  argv: readonly string[];
  /** Fed to the command's stdin (how secrets reach a command: never in argv). */
  stdin?: string | Buffer;
  env?: Readonly<Record<string, string>>;
  timeoutMs?: number;
  /** Shown in plans instead of argv (when argv is long or says nothing to a reader). */
  summary?: string;
}

export type CommandOptions = CommandBase &
  ({ creates: string; unless?: readonly string[] } | { creates?: string; unless: readonly string[] });

export interface CommandChange extends Change {
  kind: 'command';
}

export function command(options: CommandOptions): Task<CommandChange> {
  return {
    name: options.name,
    ...meta(options),
    reads: () => ({
      ...(options.creates !== undefined ? { paths: [options.creates] } : {}),
      ...(options.unless !== undefined ? { commands: [{ argv: options.unless }] } : {}),
    }),
    async check(host, ctx) {
      if (options.creates !== undefined) {
        requireAbsolute(options.creates);
        const created = await statOf(host, options.creates, ctx);
        // `test -e` follows a symbolic link: one to nothing does not count.
        if (created && (created.type !== 'symlink' || (await host.exec(['test', '-e', options.creates])).code === 0)) return [];
      }
      if (options.unless !== undefined && (await probe(host, { argv: options.unless }, ctx)).code === 0) return [];
      return [{ kind: 'command', summary: options.summary ?? `run ${shellJoin(options.argv)}` }];
    },
    async apply(host) {
      await host.run(options.argv, {
        ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
        ...(options.env ? { env: options.env } : {}),
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      });
    },
  };
}
