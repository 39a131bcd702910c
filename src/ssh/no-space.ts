/**
 * A full file system on a host, said plainly. OpenSSH's sftp-server maps ENOSPC to the generic
 * SSH_FX_FAILURE ("Failure"), so after such a failure the target's file system is asked how much
 * room is left; shell tools say it themselves ("No space left on device") on stderr.
 */
import path from 'node:path';
import { KprovError } from '../errors.js';
import { shScript } from './quote.js';
import type { RawResult } from './session.js';

/** What remote file operations need to look at a host's file system. */
export interface SpaceProbeTransport {
  readonly name: string;
  /** True when SFTP runs as a user other than root (who cannot use the reserved blocks). */
  readonly become: boolean;
  execRaw(argv: readonly string[]): Promise<RawResult & { command: string }>;
}

/** SSH_FX_FAILURE: the status sftp-server sends for errors it has no code for, ENOSPC among them. */
const SFTP_FAILURE = 4;
const ENOSPC_TEXT = /no space left on device/i;

/** Free blocks for users, free blocks for root, block size, free inodes, total inodes. */
const PROBE_SCRIPT = `exec stat -f -c '%a %f %S %d %c' -- "$1"`;

export function noSpaceError(host: string, target: string, where?: string): KprovError {
  const dir = where ?? path.posix.dirname(target);
  return new KprovError('host', `writing ${target}: no space left on device${where ? ` (staged in ${where})` : ''}`, {
    host,
    hint: `free some space on ${host} (df -h ${dir}; df -i for inodes), then run again`,
  });
}

/** Whether a command's output says the disk was full. */
export function saysNoSpace(r: RawResult): boolean {
  return ENOSPC_TEXT.test(r.stderr.toString('utf8')) || ENOSPC_TEXT.test(r.stdout.toString('utf8'));
}

/** Whether an SFTP error could be a full disk: the generic failure, or a server that says so. */
export function mayBeNoSpace(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return e?.code === SFTP_FAILURE || (typeof e?.message === 'string' && ENOSPC_TEXT.test(e.message));
}

/**
 * Whether the file system holding `dir` is too full to take `bytesLeft` more bytes (at least
 * `minBytes`: a write fails once less than a chunk fits), or has no inode left. False when the
 * host cannot tell (the caller then reports the original error).
 */
export async function spaceIsShort(t: SpaceProbeTransport, dir: string, bytesLeft: number, minBytes: number): Promise<boolean> {
  let r: RawResult;
  try {
    r = await t.execRaw(shScript(PROBE_SCRIPT, [dir], 'kprov-df'));
  } catch {
    return false;
  }
  const fields = r.stdout.toString('utf8').trim().split(/\s+/).map(Number);
  if (r.code !== 0 || fields.length !== 5 || fields.some((n) => !Number.isSafeInteger(n) || n < 0)) return false;
  const [forUsers, forRoot, blockSize, inodesFree, inodesTotal] = fields as [number, number, number, number, number];
  const freeBytes = (t.become ? forUsers : forRoot) * blockSize;
  return (inodesTotal > 0 && inodesFree === 0) || freeBytes < Math.max(bytesLeft, minBytes);
}
