/**
 * One round trip to learn what is at a remote path: its type, mode, owner, group and, for a
 * regular file, its sha256. A no-op check of a file costs exactly this one command.
 */
import { KprovError } from '../../errors.js';
import type { RemoteHost } from '../../ssh/types.js';
import { commandLine, shScript } from '../../ssh/quote.js';
import { HostCommandError } from '../../ssh/errors.js';

export type PathType = 'file' | 'directory' | 'symlink' | 'other';

export interface PathStat {
  type: PathType;
  /** Permission bits (including setuid/setgid/sticky). */
  mode: number;
  owner: string;
  group: string;
  /** Hex sha256 of a regular file's content. */
  sha256?: string;
}

/**
 * `stat` without -L so a symlink is reported as one (atomic writes replace it); exit 3 when the
 * path does not exist, so that a failing stat of an existing path is not taken for absence.
 */
export const STAT_SCRIPT = [
  'export LC_ALL=C',
  'if [ ! -e "$1" ] && [ ! -L "$1" ]; then exit 3; fi',
  'stat -c "%F|%a|%U|%G" -- "$1" || exit 1',
  'if [ -f "$1" ] && [ ! -L "$1" ]; then sha256sum -- "$1" | cut -d " " -f 1; fi',
].join('\n');

export function statArgv(path: string): string[] {
  return shScript(STAT_SCRIPT, [path], 'kprov-stat');
}

export async function statPath(host: RemoteHost, path: string): Promise<PathStat | undefined> {
  const argv = statArgv(path);
  const result = await host.exec(argv);
  if (result.code === 3) return undefined;
  if (result.code !== 0) throw new HostCommandError({ host: host.name, command: commandLine(argv), ...result });
  const [statLine = '', shaLine] = result.stdout.trim().split('\n');
  const [kind = '', mode = '', owner = '', group = ''] = statLine.split('|');
  if (!/^[0-7]{1,4}$/.test(mode)) {
    throw new KprovError('host', `unexpected stat output for ${path}: ${JSON.stringify(statLine)}`, { host: host.name });
  }
  const sha = shaLine?.trim();
  return {
    type: pathType(kind),
    mode: Number.parseInt(mode, 8),
    owner,
    group,
    ...(sha && /^[0-9a-f]{64}$/.test(sha) ? { sha256: sha } : {}),
  };
}

/** stat's `%F` (`regular file`, `regular empty file`, `directory`, …) as a PathType. */
export function pathType(kind: string): PathType {
  return kind.startsWith('regular') ? 'file' : kind === 'directory' ? 'directory' : kind === 'symbolic link' ? 'symlink' : 'other';
}

export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}
