/**
 * Image layers from a declarative list of entries, reproducibly: the entries are laid out in a
 * staging directory with explicit modes, archived by GNU tar with sorted names, uid/gid 0 and one
 * fixed mtime, and gzipped by zlib (no timestamp in the header). The same entries give the same
 * tar, the same gzip, the same digests, whoever builds them and whatever their umask.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { spawnTar } from './archive.js';

export type LayerEntry =
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'file'; mode: number; from: string }
  | { path: string; type: 'file'; mode: number; content: string }
  | { path: string; type: 'symlink'; target: string };

export interface LayerSpec {
  /** The image history's line for this layer: where its content comes from. */
  createdBy: string;
  entries: readonly LayerEntry[];
}

/** Every entry's mtime (seconds since the epoch): a build date would make every build differ. */
export const LAYER_MTIME = 0;
/** Bumped when the way layers are made changes (cached layers are then rebuilt). */
const LAYER_RECIPE = 1;

function checkPath(p: string): string {
  const normal = path.posix.normalize(p);
  if (p === '' || path.posix.isAbsolute(p) || normal !== p || normal.startsWith('..')) throw new Error(`layer path ${p} must be relative and normalised`);
  return p;
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** What a layer is made of, as one hash: entries with copied files named by their content. */
export async function layerKey(spec: LayerSpec): Promise<string> {
  const entries = await Promise.all(
    spec.entries.map(async (e) => (e.type === 'file' && 'from' in e ? { path: e.path, type: e.type, mode: e.mode, sha256: await fileSha256(e.from) } : e)),
  );
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return createHash('sha256').update(JSON.stringify({ recipe: LAYER_RECIPE, mtime: LAYER_MTIME, createdBy: spec.createdBy, entries })).digest('hex');
}

/** Lays the entries out under `dir`; parent directories are made 0755. */
export async function stageLayer(dir: string, spec: LayerSpec): Promise<void> {
  const ensureParent = async (p: string) => {
    const parts = path.posix.dirname(p).split('/').filter((x) => x !== '.' && x !== '');
    let current = dir;
    for (const part of parts) {
      current = path.join(current, part);
      await mkdir(current).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      await chmod(current, 0o755);
    }
  };
  const seen = new Set<string>();
  for (const e of spec.entries) {
    if (seen.has(checkPath(e.path))) throw new Error(`layer entry ${e.path} is listed twice`);
    seen.add(e.path);
    await ensureParent(e.path);
    const target = path.join(dir, e.path);
    if (e.type === 'dir') {
      await mkdir(target, { recursive: true });
      await chmod(target, e.mode ?? 0o755);
    } else if (e.type === 'symlink') {
      await symlink(e.target, target);
    } else {
      if ('from' in e) await copyFile(e.from, target);
      else await writeFile(target, e.content);
      await chmod(target, e.mode);
    }
  }
}

/** Passes bytes on while hashing and counting them. */
class Digester extends Transform {
  readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
}

export interface BuiltLayer {
  /** sha256:… of the gzip blob. */
  digest: string;
  size: number;
  /** sha256:… of the tar inside. */
  diffId: string;
}

/** Archives a staged directory into `outFile` (tar+gzip) and returns its digests. */
export async function tarGzLayer(dir: string, outFile: string): Promise<BuiltLayer> {
  const tar = spawnTar(dir, (await readdir(dir)).sort(), LAYER_MTIME, `layer ${outFile}`);
  const raw = new Digester();
  const gz = new Digester();
  await pipeline(tar.stdout, raw, createGzip({ level: 9 }), gz, createWriteStream(outFile));
  await tar.done;
  return { digest: `sha256:${gz.hash.digest('hex')}`, size: gz.size, diffId: `sha256:${raw.hash.digest('hex')}` };
}

/** Stages and archives a layer in a scratch directory under `workDir`. */
export async function buildLayer(spec: LayerSpec, workDir: string, outFile: string): Promise<BuiltLayer> {
  await mkdir(workDir, { recursive: true });
  const stage = await mkdtemp(path.join(workDir, 'layer-'));
  try {
    await stageLayer(stage, spec);
    return await tarGzLayer(stage, outFile);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
