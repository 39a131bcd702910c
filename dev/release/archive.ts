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

/**
 * Writes `outFile` as a gzipped tar of `entries` (paths relative to `dir`), atomically.
 * `mtime` (seconds since the epoch) is stamped on every entry.
 */
export async function tarGz(dir: string, entries: readonly string[], outFile: string, mtime: number): Promise<void> {
  const tmp = `${outFile}.tmp-${process.pid}`;
  const tar = spawn(
    'tar',
    ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${Math.floor(mtime)}`, '--format=gnu', '-C', dir, '-cf', '-', ...entries],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  tar.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((resolve) => tar.on('close', (code) => resolve(code ?? -1)));
  await pipeline(tar.stdout, createGzip({ level: 6 }), createWriteStream(tmp));
  const code = await exited;
  if (code !== 0) throw new KprovError('lab', `tar failed for ${outFile}: ${stderr.trim()}`);
  await rename(tmp, outFile);
}

/** The newest mtime (seconds) among `files`, used as the archive's fixed timestamp. */
export async function newestMtime(files: readonly string[]): Promise<number> {
  const times = await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs / 1000));
  return Math.max(...times);
}
