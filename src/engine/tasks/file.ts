/**
 * Desired state: a remote file with this content, mode and owner. `check` costs one command when
 * nothing differs (stat + sha256 together) and reads the old content only to show a diff.
 */
import { createHash } from 'node:crypto';
import { KprovError } from '../../errors.js';
import type { Change, Task, TaskContext } from '../contract.js';
import type { RemoteHost } from '../../ssh/types.js';
import { fileDiff, type MaskOptions } from '../diff.js';
import { statOf } from '../read-cache.js';
import { octal, type PathStat } from './remote-stat.js';

/** Content, or a function computing it when the task runs (e.g. rendering a template). */
export type Content<R = unknown> = string | Buffer | ((ctx: TaskContext<R>) => string | Buffer);

export interface TaskMeta {
  tags?: readonly string[];
  notify?: readonly string[];
}

export interface Ownership {
  /** Permission bits, e.g. 0o644. */
  mode?: number;
  owner?: string;
  group?: string;
}

export interface FileOptions<R = unknown> extends TaskMeta, Ownership, MaskOptions {
  /** Task name (default `file <path>`). */
  name?: string;
  path: string;
  content: Content<R>;
}

export interface FileChange extends Change {
  kind: 'file';
  action: 'content' | 'mode' | 'owner';
}

export const DEFAULT_FILE_MODE = 0o644;

export function resolveContent<R>(content: Content<R>, ctx: TaskContext<R>): Buffer {
  const value = typeof content === 'function' ? content(ctx) : content;
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

export function sha256Hex(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

export function requireAbsolute(path: string): void {
  if (!path.startsWith('/') || path.split('/').includes('..')) {
    throw new KprovError('internal', `remote path "${path}" must be absolute and without ".."`);
  }
}

/** Mode and owner differences between what is there and what is wanted. */
export function ownershipChanges(path: string, current: PathStat, want: Ownership, defaultMode: number): { action: 'mode' | 'owner'; summary: string }[] {
  const out: { action: 'mode' | 'owner'; summary: string }[] = [];
  const mode = want.mode ?? defaultMode;
  if ((current.mode & 0o7777) !== mode) out.push({ action: 'mode', summary: `mode ${path}: ${octal(current.mode)} → ${octal(mode)}` });
  const ownerDiffers = want.owner !== undefined && want.owner !== current.owner;
  const groupDiffers = want.group !== undefined && want.group !== current.group;
  if (ownerDiffers || groupDiffers) {
    const to = `${want.owner ?? current.owner}:${want.group ?? current.group}`;
    out.push({ action: 'owner', summary: `owner ${path}: ${current.owner}:${current.group} → ${to}` });
  }
  return out;
}

function describeSpec(want: Ownership, defaultMode: number): string {
  const owner = want.owner !== undefined || want.group !== undefined ? ` ${want.owner ?? ''}:${want.group ?? ''}` : '';
  return `${octal(want.mode ?? defaultMode)}${owner}`;
}

/**
 * What differs between the remote file and `desired`; shared by every helper that writes files.
 * With `ctx`, the file's stat and sha256 may come from the play's read-ahead.
 */
export async function checkFile<R>(host: RemoteHost, options: FileOptions<R>, desired: Buffer, ctx?: Pick<TaskContext, 'cache'>): Promise<FileChange[]> {
  requireAbsolute(options.path);
  const { path } = options;
  const current = await statOf(host, path, ctx);
  if (!current) {
    return [{ kind: 'file', action: 'content', path, summary: `create ${path} (${describeSpec(options, DEFAULT_FILE_MODE)})`, diff: fileDiff(path, undefined, desired, options) }];
  }
  if (current.type === 'directory' || current.type === 'other') {
    throw new KprovError('host', `${path} should be a file but is a ${current.type === 'other' ? 'special file' : 'directory'}`, { host: host.name });
  }
  const changes: FileChange[] = [];
  if (current.type === 'symlink') {
    changes.push({ kind: 'file', action: 'content', path, summary: `replace symbolic link ${path} with a file`, diff: fileDiff(path, undefined, desired, options) });
    return changes;
  }
  if (current.sha256 !== sha256Hex(desired)) {
    const old = await host.readFile(path);
    changes.push({ kind: 'file', action: 'content', path, summary: `update ${path}`, diff: fileDiff(path, old, desired, options) });
  }
  for (const c of ownershipChanges(path, current, options, DEFAULT_FILE_MODE)) changes.push({ kind: 'file', path, ...c });
  return changes;
}

/** Makes the changes checkFile found: content through an atomic write, else chmod/chown only. */
export async function applyFile<R>(host: RemoteHost, options: FileOptions<R>, desired: Buffer, changes: readonly FileChange[]): Promise<void> {
  const spec = { mode: options.mode ?? DEFAULT_FILE_MODE, ...owned(options) };
  if (changes.some((c) => c.action === 'content')) {
    await host.writeFile(options.path, desired, spec, { differs: true });
    return;
  }
  await applyOwnership(host, options.path, spec, changes);
}

export async function applyOwnership(host: RemoteHost, path: string, spec: Ownership & { mode: number }, changes: readonly { action: string }[]): Promise<void> {
  if (changes.some((c) => c.action === 'owner')) {
    await host.run(['chown', `${spec.owner ?? ''}${spec.group !== undefined ? `:${spec.group}` : ''}`, '--', path]);
  }
  // chown may clear setuid bits, so the mode goes second.
  if (changes.some((c) => c.action === 'mode' || c.action === 'owner')) {
    await host.run(['chmod', octal(spec.mode), '--', path]);
  }
}

function owned(o: Ownership): { owner?: string; group?: string } {
  return { ...(o.owner !== undefined ? { owner: o.owner } : {}), ...(o.group !== undefined ? { group: o.group } : {}) };
}

/** A file with this content, mode and owner. */
export function file<R = unknown>(options: FileOptions<R>): Task<FileChange, R> {
  let desired: Buffer | undefined;
  return {
    name: options.name ?? `file ${options.path}`,
    ...meta(options),
    reads: () => ({ paths: [options.path] }),
    async check(host, ctx) {
      desired = resolveContent(options.content, ctx);
      return checkFile(host, options, desired, ctx);
    },
    async apply(host, changes, ctx) {
      await applyFile(host, options, desired ?? resolveContent(options.content, ctx), changes);
    },
  };
}

export function meta(m: TaskMeta): TaskMeta {
  return { ...(m.tags ? { tags: m.tags } : {}), ...(m.notify ? { notify: m.notify } : {}) };
}
