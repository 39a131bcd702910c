/**
 * Files of the release tree: reproducible .tar.gz archives (GNU tar with sorted names, root
 * ownership and one fixed mtime, gzipped by zlib without a timestamp, so the same inputs give the
 * same bytes and the same pinned checksum) and digests in the formats upstream publishes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { KprovError } from '../../src/errors.js';

export type Algorithm = 'sha256' | 'sha512' | 'sha1' | 'md5';

export async function digestFile(file: string, algorithm: Algorithm): Promise<string> {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export async function digests(file: string, algorithms: readonly Algorithm[]): Promise<Record<Algorithm, string>> {
  const hashes = algorithms.map((a) => [a, createHash(a)] as const);
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('data', (chunk) => {
        for (const [, h] of hashes) h.update(chunk);
      })
      .on('end', () => resolve())
      .on('error', reject);
  });
  const out = {} as Record<Algorithm, string>;
  for (const [a, h] of hashes) out[a] = h.digest('hex');
  return out;
}

/** A running GNU tar writing `entries` (relative to `dir`) to its stdout, reproducibly. */
export interface TarStream {
  stdout: NodeJS.ReadableStream;
  /** Resolves when tar exited 0, rejects with its stderr otherwise. */
  done: Promise<void>;
}

export interface TarOptions {
  /** chmod(1)-style modes stamped on every entry (the files' own otherwise), e.g. `go=rX,u=rwX`. */
  mode?: string;
}

/**
 * Sorted names, uid/gid 0 without names, `mtime` (seconds since the epoch) on every entry, GNU
 * format (no pax headers with access times): the same files give the same bytes.
 */
export function spawnTar(dir: string, entries: readonly string[], mtime: number, what: string, options: TarOptions = {}): TarStream {
  const mode = options.mode !== undefined ? [`--mode=${options.mode}`] : [];
  const tar = spawn(
    'tar',
    ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${Math.floor(mtime)}`, ...mode, '--format=gnu', '-C', dir, '-cf', '-', '--', ...entries],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LC_ALL: 'C' } },
  );
  let stderr = '';
  tar.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new KprovError('lab', `tar failed for ${what}: ${stderr.trim()}`))));
  });
  return { stdout: tar.stdout, done };
}

/**
 * Writes `outFile` as a tar of `entries` (paths relative to `dir`), gzipped by zlib without a
 * timestamp unless `gzip` is false, atomically. `mtime` (seconds since the epoch) is stamped on
 * every entry.
 */
export async function tarGz(dir: string, entries: readonly string[], outFile: string, mtime: number, gzip = true, options: TarOptions = {}): Promise<void> {
  const tmp = `${outFile}.tmp-${process.pid}`;
  const tar = spawnTar(dir, entries, mtime, outFile, options);
  if (gzip) await pipeline(tar.stdout, createGzip({ level: 6 }), createWriteStream(tmp));
  else await pipeline(tar.stdout, createWriteStream(tmp));
  await tar.done;
  await rename(tmp, outFile);
}

/** The newest mtime (seconds) among `files`, used as the archive's fixed timestamp. */
export async function newestMtime(files: readonly string[]): Promise<number> {
  const times = await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs / 1000));
  return Math.max(...times);
}
