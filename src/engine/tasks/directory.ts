/** Desired state: a remote directory with this mode and owner (parents created as needed). */
import { KprovError } from '../../errors.js';
import type { Change, Task } from '../contract.js';
import { applyOwnership, meta, ownershipChanges, requireAbsolute, type Ownership, type TaskMeta } from './file.js';
import { statOf } from '../read-cache.js';
import { octal } from './remote-stat.js';

export interface DirectoryOptions extends TaskMeta, Ownership {
  name?: string;
  path: string;
}

export interface DirectoryChange extends Change {
  kind: 'directory';
  action: 'create' | 'mode' | 'owner';
}

export const DEFAULT_DIRECTORY_MODE = 0o755;

export function directory(options: DirectoryOptions): Task<DirectoryChange> {
  const mode = options.mode ?? DEFAULT_DIRECTORY_MODE;
  return {
    name: options.name ?? `directory ${options.path}`,
    ...meta(options),
    reads: () => ({ paths: [options.path] }),
    async check(host, ctx) {
      requireAbsolute(options.path);
      const current = await statOf(host, options.path, ctx);
      if (!current) {
        const owner = options.owner !== undefined || options.group !== undefined ? ` ${options.owner ?? ''}:${options.group ?? ''}` : '';
        return [{ kind: 'directory', action: 'create', path: options.path, summary: `create directory ${options.path} (${octal(mode)}${owner})` }];
      }
      if (current.type !== 'directory') {
        throw new KprovError('host', `${options.path} should be a directory but is a ${current.type === 'file' ? 'file' : current.type === 'symlink' ? 'symbolic link' : 'special file'}`, {
          host: host.name,
        });
      }
      return ownershipChanges(options.path, current, options, DEFAULT_DIRECTORY_MODE).map((c) => ({ kind: 'directory', path: options.path, ...c }));
    },
    async apply(host, changes) {
      const spec = { ...options, mode };
      if (changes.some((c) => c.action === 'create')) {
        // `mkdir -p` for the parents (0755, as they would be made by hand), then the exact mode and owner.
        await host.run(['mkdir', '-p', '--', options.path]);
        const owned = options.owner !== undefined || options.group !== undefined;
        await applyOwnership(host, options.path, spec, owned ? [{ action: 'owner' }] : [{ action: 'mode' }]);
        return;
      }
      await applyOwnership(host, options.path, spec, changes);
    },
  };
}
