/**
 * Desired state: a remote file (usually an executable) identical to a local one, proven by
 * sha256. Uploads only when the remote checksum differs; a mode or owner difference alone is
 * fixed in place without sending any bytes.
 */
import { KprovError } from '../../errors.js';
import type { Change, Task } from '../contract.js';
import { applyOwnership, meta, ownershipChanges, requireAbsolute, type Ownership, type TaskMeta } from './file.js';
import { statOf } from '../read-cache.js';
import { octal } from './remote-stat.js';

export interface BinaryOptions extends TaskMeta, Ownership {
  name?: string;
  /** Remote path. */
  path: string;
  /** Local file to upload (verified by the caller, e.g. the artifact cache). */
  source: string;
  /** Expected sha256 (hex) of `source`. */
  sha256: string;
}

export interface BinaryChange extends Change {
  kind: 'binary';
  action: 'upload' | 'mode' | 'owner';
}

export const DEFAULT_BINARY_MODE = 0o755;

export function binary(options: BinaryOptions): Task<BinaryChange> {
  const mode = options.mode ?? DEFAULT_BINARY_MODE;
  const sha = options.sha256.toLowerCase();
  return {
    name: options.name ?? `binary ${options.path}`,
    ...meta(options),
    reads: () => ({ paths: [options.path] }),
    async check(host, ctx) {
      requireAbsolute(options.path);
      if (!/^[0-9a-f]{64}$/.test(sha)) throw new KprovError('internal', `binary ${options.path}: "${options.sha256}" is not a sha256`);
      const current = await statOf(host, options.path, ctx);
      const short = sha.slice(0, 12);
      if (!current || current.type === 'symlink') {
        return [{ kind: 'binary', action: 'upload', path: options.path, summary: `upload ${options.path} (sha256 ${short}…, ${octal(mode)})` }];
      }
      if (current.type !== 'file') {
        throw new KprovError('host', `${options.path} should be a file but is a ${current.type === 'directory' ? 'directory' : 'special file'}`, { host: host.name });
      }
      if (current.sha256 !== sha) {
        const was = current.sha256 ? `${current.sha256.slice(0, 12)}…` : 'unreadable';
        return [{ kind: 'binary', action: 'upload', path: options.path, summary: `upload ${options.path} (sha256 ${was} → ${short}…)` }];
      }
      return ownershipChanges(options.path, current, options, DEFAULT_BINARY_MODE).map((c) => ({ kind: 'binary', path: options.path, ...c }));
    },
    async apply(host, changes) {
      const spec = {
        mode,
        ...(options.owner !== undefined ? { owner: options.owner } : {}),
        ...(options.group !== undefined ? { group: options.group } : {}),
      };
      if (changes.some((c) => c.action === 'upload')) {
        await host.uploadFile(options.source, options.path, { ...spec, sha256: sha });
        return;
      }
      await applyOwnership(host, options.path, spec, changes);
    },
  };
}
