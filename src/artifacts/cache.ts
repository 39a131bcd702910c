/**
 * The download cache on the control host, content-addressed:
 *   <dir>/sha256/<hex>              every file (downloads and extracted archive members), read-only
 *   <dir>/urls/<sha256(url)>.json   URL → sha256 (+ sha512, size, how it was verified), so a warm
 *                                   cache answers without any network request
 *   <dir>/archives/<hex>-<rules>.json  what was extracted from an archive for a set of install rules
 *   <dir>/tmp/                      downloads in progress (renamed into sha256/ once verified)
 *   <dir>/checked/<hex>.json        the blob's inode, size and change time when it last hashed to
 *                                   its name: a later run re-hashes it only when these differ
 * Every index file is one small JSON written atomically (temp + rename), so concurrent runs never
 * see a half-written entry and two URLs never contend for one file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { ExitCode, KprovError } from '../errors.js';

/** `$XDG_CACHE_HOME/kprov`, else `~/.cache/kprov`. */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env['XDG_CACHE_HOME'];
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env['HOME'] || os.homedir(), '.cache');
  return path.join(base, 'kprov');
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

const urlEntrySchema = z.object({
  url: z.string(),
  sha256: hex64,
  /** Computed when a sha512 was needed (published .sha512 or a sha512 pin). */
  sha512: z.string().regex(/^[0-9a-f]{128}$/).optional(),
  size: z.number().int().nonnegative(),
  /** How the content was checked when it was fetched; `skipped` = --insecure-skip-checksum. */
  verified: z.enum(['pinned', 'published', 'skipped']),
  fetchedAt: z.string(),
});
export type UrlEntry = z.infer<typeof urlEntrySchema>;

const extractedSchema = z.object({
  archive: hex64,
  members: z.array(
    z.object({
      member: z.string(),
      installName: z.string(),
      /** Index of the install rule that selected it (gives the directory and mode on hosts). */
      rule: z.number().int().nonnegative(),
      sha256: hex64,
      size: z.number().int().nonnegative(),
    }),
  ),
});
export type ExtractedMembers = z.infer<typeof extractedSchema>;

/** A stored blob whose content does not match its name; it and its index entries are gone. */
export interface CorruptBlob {
  /** Where it was in the cache. */
  path: string;
  /** What was found instead: `sha256 <hex>`, or why it could not be read. */
  found: string;
}

const STALE_TEMP_MS = 24 * 3600 * 1000;

const blobStampSchema = z.object({ ino: z.string(), size: z.string(), ctimeNs: z.string() });
type BlobStamp = z.infer<typeof blobStampSchema>;

export class ArtifactCache {
  /**
   * Blobs already hashed by this instance (one per run): sha256 → the check's outcome. Shared by
   * every artifact and host of the run, so a blob is read once however many hosts receive it.
   */
  private readonly checked = new Map<string, Promise<CorruptBlob | undefined>>();

  private constructor(readonly dir: string) {}

  /** Opens (creating) the cache and removes temp files a crashed run left behind a day ago. */
  static async open(dir: string): Promise<ArtifactCache> {
    const cache = new ArtifactCache(dir);
    try {
      for (const sub of ['sha256', 'urls', 'archives', 'tmp', 'checked']) await mkdir(path.join(dir, sub), { recursive: true });
    } catch (err) {
      throw cacheError(dir, err);
    }
    const now = Date.now();
    for (const name of await readdir(path.join(dir, 'tmp'))) {
      const file = path.join(dir, 'tmp', name);
      const st = await stat(file).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(file, { force: true, recursive: true });
    }
    return cache;
  }

  blobPath(sha256: string): string {
    return path.join(this.dir, 'sha256', sha256);
  }

  /** True when the blob exists with the expected size (a cheap guard against a damaged cache). */
  async hasBlob(sha256: string, size: number): Promise<boolean> {
    const st = await stat(this.blobPath(sha256)).catch(() => undefined);
    return st !== undefined && st.isFile() && st.size === size;
  }

  /** A fresh path under tmp/ for a download or an extracted member. */
  tempPath(label: string): string {
    const safe = label.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60);
    return path.join(this.dir, 'tmp', `${process.pid}-${randomBytes(6).toString('hex')}-${safe}`);
  }

  /**
   * Moves a verified temp file into the store under its sha256 and makes it read-only. Callers
   * hashed the bytes on their way in, so the blob counts as checked for this run.
   */
  async adopt(tempFile: string, sha256: string): Promise<string> {
    const target = this.blobPath(sha256);
    await chmod(tempFile, 0o444);
    await rename(tempFile, target);
    this.checked.set(sha256, Promise.resolve(undefined));
    await this.stampChecked(sha256);
    return target;
  }

  /**
   * Checks a blob that is about to be used: its content must hash to its name. Hashed (streamed)
   * once per instance, whatever the number of callers. A mismatching or unreadable blob is removed
   * together with every index entry pointing at it, and described in the result; undefined when
   * it is intact.
   */
  verifyBlob(sha256: string): Promise<CorruptBlob | undefined> {
    let outcome = this.checked.get(sha256);
    if (!outcome) {
      outcome = (async () => {
        // Unchanged since it last hashed to its name (no write can keep ctime): nothing to read.
        if (await this.stampStillHolds(sha256)) return undefined;
        const found = await this.hashBlob(sha256);
        if (found === `sha256 ${sha256}`) {
          await this.stampChecked(sha256);
          return undefined;
        }
        await this.discardBlob(sha256);
        return { path: this.blobPath(sha256), found };
      })();
      this.checked.set(sha256, outcome);
    }
    return outcome;
  }

  private stampPath(sha256: string): string {
    return path.join(this.dir, 'checked', `${sha256}.json`);
  }

  private async blobIdentity(sha256: string): Promise<BlobStamp | undefined> {
    const st = await stat(this.blobPath(sha256), { bigint: true }).catch(() => undefined);
    return st?.isFile() ? { ino: String(st.ino), size: String(st.size), ctimeNs: String(st.ctimeNs) } : undefined;
  }

  /** Records the blob as it is now as checked (best effort: a missing stamp only costs a re-hash). */
  private async stampChecked(sha256: string): Promise<void> {
    const identity = await this.blobIdentity(sha256);
    if (identity) await this.writeJson(this.stampPath(sha256), identity).catch(() => undefined);
  }

  private async stampStillHolds(sha256: string): Promise<boolean> {
    const [recorded, now] = await Promise.all([readJson(this.stampPath(sha256), blobStampSchema), this.blobIdentity(sha256)]);
    return recorded !== undefined && now !== undefined && recorded.ino === now.ino && recorded.size === now.size && recorded.ctimeNs === now.ctimeNs;
  }

  private async hashBlob(sha256: string): Promise<string> {
    try {
      return `sha256 ${await this.blobDigest(sha256, 'sha256')}`;
    } catch (err) {
      return `unreadable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
  }

  /** Removes a blob, the URL entries naming it, and the extraction records of or with it. */
  private async discardBlob(sha256: string): Promise<void> {
    try {
      await rm(this.blobPath(sha256), { force: true });
      await rm(this.stampPath(sha256), { force: true });
      for (const name of await readdir(path.join(this.dir, 'urls'))) {
        const file = path.join(this.dir, 'urls', name);
        if ((await readJson(file, urlEntrySchema))?.sha256 === sha256) await rm(file, { force: true });
      }
      for (const name of await readdir(path.join(this.dir, 'archives'))) {
        const file = path.join(this.dir, 'archives', name);
        const points =
          name.startsWith(`${sha256}-`) || (await readJson(file, extractedSchema))?.members.some((m) => m.sha256 === sha256) === true;
        if (points) await rm(file, { force: true });
      }
    } catch (err) {
      throw cacheError(this.dir, err);
    }
  }

  private urlIndexPath(url: string): string {
    return path.join(this.dir, 'urls', `${createHash('sha256').update(url).digest('hex')}.json`);
  }

  /** The entry for a URL if it and its blob are intact; undefined otherwise. */
  async lookupUrl(url: string): Promise<UrlEntry | undefined> {
    const entry = await readJson(this.urlIndexPath(url), urlEntrySchema);
    if (!entry || entry.url !== url) return undefined;
    return (await this.hasBlob(entry.sha256, entry.size)) ? entry : undefined;
  }

  /** A digest of a stored file, computed from disk (no network). */
  async blobDigest(sha256: string, algorithm: 'sha256' | 'sha512'): Promise<string> {
    const hash = createHash(algorithm);
    await pipeline(createReadStream(this.blobPath(sha256)), hash);
    return hash.digest('hex');
  }

  async recordUrl(entry: UrlEntry): Promise<void> {
    await this.writeJson(this.urlIndexPath(entry.url), entry);
  }

  async forgetUrl(url: string): Promise<void> {
    await rm(this.urlIndexPath(url), { force: true });
  }

  private archiveIndexPath(archiveSha256: string, rulesKey: string): string {
    return path.join(this.dir, 'archives', `${archiveSha256}-${rulesKey}.json`);
  }

  /** What was extracted from an archive for these rules, if every member is still in the store. */
  async lookupExtraction(archiveSha256: string, rulesKey: string): Promise<ExtractedMembers | undefined> {
    const entry = await readJson(this.archiveIndexPath(archiveSha256, rulesKey), extractedSchema);
    if (!entry || entry.archive !== archiveSha256) return undefined;
    for (const m of entry.members) if (!(await this.hasBlob(m.sha256, m.size))) return undefined;
    return entry;
  }

  async recordExtraction(rulesKey: string, entry: ExtractedMembers): Promise<void> {
    await this.writeJson(this.archiveIndexPath(entry.archive, rulesKey), entry);
  }

  private async writeJson(file: string, value: unknown): Promise<void> {
    const temp = this.tempPath(path.basename(file));
    try {
      await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw cacheError(this.dir, err);
    }
  }
}

function cacheError(dir: string, err: unknown): KprovError {
  const reason = err instanceof Error ? err.message : String(err);
  return new KprovError('io', `cannot write the download cache ${dir}: ${reason}`, {
    hint: 'free some space there, or point XDG_CACHE_HOME at a writable directory',
    exitCode: ExitCode.hostFailed,
  });
}

/** Index files are input from disk: a missing, unreadable or malformed one is simply a miss. */
async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
