/**
 * The PKI directory on disk: reads that tell "absent" from "present", atomic writes with explicit
 * modes, and directory modes. Errors carry the file path.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../errors.js';
import { MODE } from './layout.js';

function ioError(what: string, file: string, err: unknown): KprovError {
  const reason = err instanceof Error ? err.message : String(err);
  return new KprovError('pki', `cannot ${what} ${file}: ${reason}`, { location: { file }, cause: err });
}

/** The file's bytes, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError('read', file, err);
  }
}

/**
 * Writes through a temporary file in the same directory, fsynced, then renamed over the target,
 * so a crash leaves either the old file or the new one, never a torn key.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(data);
      // open() applies the umask; the mode must be exact.
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw ioError('write', file, err);
  }
}

/** Makes the directory (and parents) and sets it to 0700 when it is not already. */
export async function ensurePrivateDir(dir: string): Promise<boolean> {
  try {
    await mkdir(dir, { recursive: true, mode: MODE.dir });
    return await ensureMode(dir, MODE.dir);
  } catch (err) {
    if (err instanceof KprovError) throw err;
    throw ioError('create directory', dir, err);
  }
}

/** Sets the file's permission bits when they differ; returns whether it changed them. */
export async function ensureMode(file: string, mode: number): Promise<boolean> {
  try {
    const st = await stat(file);
    if ((st.mode & 0o7777) === mode) return false;
    await chmod(file, mode);
    return true;
  } catch (err) {
    throw ioError('set the mode of', file, err);
  }
}
