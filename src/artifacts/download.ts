/**
 * Fills the cache for a list of resolved artifacts and says, per artifact, which plain files go
 * where on a host. A warm cache answers from its index without any network request; a cold one
 * fetches the checksum first (so a missing checksum fails before a large download), streams the
 * artifact while hashing, and keeps it only if it matches.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path/posix';
import pLimit from 'p-limit';
import { ExitCode, KprovError } from '../errors.js';
import { ArtifactCache, type CorruptBlob, type UrlEntry } from './cache.js';
import { formatDigest, parseChecksumFile, type Digest } from './checksum.js';
import { extractMembers, rulesKey } from './extract.js';
import { DEFAULT_HTTP_OPTIONS, DownloadError, downloadToFile, fetchText, type HttpOptions, type RetryInfo } from './http.js';
import type { ResolvedArtifact } from './resolve.js';

/** One plain file an artifact puts on a host: what the roles upload. */
export interface ArtifactFile {
  /** File name on the host. */
  name: string;
  installPath: string;
  mode: number;
  sha256: string;
  size: number;
  /** The file in the local cache (read-only). */
  cachePath: string;
}

export type Verification = 'pinned' | 'published' | 'skipped';

export interface CachedArtifact {
  artifact: ResolvedArtifact;
  /** The downloaded file (binary or archive). */
  sha256: string;
  size: number;
  cachePath: string;
  status: 'cached' | 'downloaded';
  verification: Verification;
  files: ArtifactFile[];
  /** To be shown on every host that receives it (e.g. --insecure-skip-checksum). */
  warnings: string[];
}

export type ArtifactEvent =
  | { type: 'cached'; artifact: ResolvedArtifact }
  | { type: 'checksum'; artifact: ResolvedArtifact; url: string }
  | { type: 'download'; artifact: ResolvedArtifact; url: string }
  | { type: 'retry'; artifact: ResolvedArtifact; info: RetryInfo }
  | { type: 'done'; result: CachedArtifact }
  | { type: 'failed'; artifact: ResolvedArtifact; error: KprovError };

export interface DownloadOptions {
  cacheDir: string;
  /** Artifacts fetched at once (default 4). */
  concurrency?: number;
  http?: Partial<HttpOptions>;
  onEvent?: (event: ArtifactEvent) => void;
}

export const label = (a: ResolvedArtifact) => `${a.id} ${a.version} (${a.arch})`;

export function insecureWarning(a: ResolvedArtifact): string {
  return `${label(a)}: checksum NOT verified (--insecure-skip-checksum): ${a.url}`;
}

const missingChecksumHint = (a: ResolvedArtifact) =>
  `set ${a.checksumVar}: sha256:<hex> in group_vars, or pass --insecure-skip-checksum to install it unverified`;

function notFoundHint(a: ResolvedArtifact): string {
  if (a.urlOrigin === 'override') return `check ${a.urlVar}`;
  if (a.urlOrigin === 'files_repo') return `check that files_repo mirrors ${a.upstreamUrl}`;
  return `check that ${a.versionVar} (${a.version}) is published for ${a.arch}`;
}

/** A DownloadError about `url` as the error users see. */
function toKprovError(a: ResolvedArtifact, err: DownloadError, what: string): KprovError {
  switch (err.kind) {
    case 'not-found':
      return new KprovError('artifact', `${label(a)}: ${what} ${err.url} not found (HTTP ${err.status ?? 404})`, {
        hint: notFoundHint(a),
      });
    case 'io':
      return new KprovError('io', `${label(a)}: ${err.message}`, {
        hint: 'free some space in the kprov cache directory',
        exitCode: ExitCode.hostFailed,
      });
    case 'network':
    case 'truncated':
      return new KprovError('artifact', `${label(a)}: cannot download ${err.url}: ${err.message}`, {
        hint: 'check the network path to that server, or set files_repo to a reachable mirror',
        exitCode: ExitCode.hostFailed,
      });
    default:
      return new KprovError('artifact', `${label(a)}: ${what} ${err.url}: ${err.message}`, { hint: notFoundHint(a) });
  }
}

interface Expected {
  digest: Digest;
  via: 'pinned' | 'published';
  /** Where the digest came from, for the mismatch message. */
  source: string;
}

/** The digest the artifact must have; undefined under --insecure-skip-checksum. */
async function expectedDigest(a: ResolvedArtifact, http: HttpOptions, emit: (e: ArtifactEvent) => void): Promise<Expected | undefined> {
  const source = a.checksum;
  switch (source.kind) {
    case 'skipped':
      return undefined;
    case 'pinned':
      return {
        digest: source.digest,
        via: 'pinned',
        source: source.origin === 'group_vars' ? a.checksumVar : `the checksum kprov pins for ${a.id} ${a.version}`,
      };
    case 'none':
      throw new KprovError('artifact', `${label(a)}: no checksum is published for ${a.url}, and none is pinned`, {
        hint: missingChecksumHint(a),
      });
    case 'published': {
      for (const candidate of source.candidates) {
        emit({ type: 'checksum', artifact: a, url: candidate.url });
        let text;
        try {
          text = await fetchText(candidate.url, http);
        } catch (err) {
          if (err instanceof DownloadError) throw toKprovError(a, err, 'checksum file');
          throw err;
        }
        if (!text.found) continue;
        const parsed = parseChecksumFile(text.text, candidate.algorithm, candidate.fileName);
        if ('problem' in parsed) {
          throw new KprovError('artifact', `${label(a)}: checksum file ${candidate.url} is unusable: ${parsed.problem}`, {
            hint: missingChecksumHint(a),
          });
        }
        return { digest: { algorithm: candidate.algorithm, hex: parsed.hex }, via: 'published', source: candidate.url };
      }
      const tried = source.candidates.map((c) => c.url).join(', ');
      throw new KprovError('artifact', `${label(a)}: no checksum file found for ${a.url} (tried ${tried})`, {
        hint: missingChecksumHint(a),
      });
    }
  }
}

/** The entry's digest in `d`'s algorithm; a missing sha512 is computed from the stored file once. */
async function digestOf(cache: ArtifactCache, entry: UrlEntry, d: Digest): Promise<{ hex: string; entry: UrlEntry }> {
  if (d.algorithm === 'sha256') return { hex: entry.sha256, entry };
  if (entry.sha512) return { hex: entry.sha512, entry };
  const sha512 = await cache.blobDigest(entry.sha256, 'sha512');
  const updated = { ...entry, sha512 };
  await cache.recordUrl(updated);
  return { hex: sha512, entry: updated };
}

/** The cache entry for the artifact if it can be used without downloading, else undefined. */
async function warmEntry(a: ResolvedArtifact, cache: ArtifactCache, http: HttpOptions, emit: (e: ArtifactEvent) => void) {
  const entry = await cache.lookupUrl(a.url);
  if (!entry) return undefined;
  const source = a.checksum;
  if (source.kind === 'skipped') return { entry, verification: 'skipped' as const };
  if (source.kind === 'pinned') {
    const known = await digestOf(cache, entry, source.digest);
    return known.hex === source.digest.hex ? { entry: known.entry, verification: 'pinned' as const } : undefined;
  }
  if (source.kind === 'none') return undefined;
  if (entry.verified !== 'skipped') return { entry, verification: 'published' as const };
  // Fetched unverified before: verify it now against the published file, without downloading it again.
  const expected = await expectedDigest(a, http, emit);
  if (!expected) return undefined;
  const known = await digestOf(cache, entry, expected.digest);
  if (known.hex !== expected.digest.hex) return undefined;
  const upgraded: UrlEntry = { ...known.entry, verified: 'published' };
  await cache.recordUrl(upgraded);
  return { entry: upgraded, verification: 'published' as const };
}

/** An artifact's download in the cache and how it was verified. */
type Fetched = { entry: UrlEntry; verification: Verification };

async function fetchFresh(a: ResolvedArtifact, cache: ArtifactCache, http: HttpOptions, emit: (e: ArtifactEvent) => void): Promise<Fetched> {
  const expected = await expectedDigest(a, http, emit);
  emit({ type: 'download', artifact: a, url: a.url });
  const temp = cache.tempPath(a.fileName);
  let result;
  try {
    result = await downloadToFile(
      a.url,
      temp,
      { ...http, onRetry: (info) => emit({ type: 'retry', artifact: a, info }) },
      expected?.digest.algorithm === 'sha512',
    );
  } catch (err) {
    if (err instanceof DownloadError) throw toKprovError(a, err, 'download');
    throw err;
  }
  const verification: Verification = expected ? expected.via : 'skipped';
  if (expected) {
    const actual = expected.digest.algorithm === 'sha256' ? result.sha256 : (result.sha512 ?? '');
    if (actual !== expected.digest.hex) {
      await rm(temp, { force: true });
      const got = formatDigest({ algorithm: expected.digest.algorithm, hex: actual });
      throw new KprovError(
        'artifact',
        `${label(a)}: checksum mismatch for ${a.url}: expected ${formatDigest(expected.digest)} (from ${expected.source}), got ${got}`,
        { hint: 'the download was discarded and nothing was cached or installed; check the server or mirror serving it' },
      );
    }
  }
  await cache.adopt(temp, result.sha256);
  const entry: UrlEntry = {
    url: a.url,
    sha256: result.sha256,
    ...(result.sha512 ? { sha512: result.sha512 } : {}),
    size: result.size,
    verified: verification,
    fetchedAt: new Date().toISOString(),
  };
  await cache.recordUrl(entry);
  return { entry, verification };
}

function binaryFiles(a: ResolvedArtifact, cache: ArtifactCache, entry: UrlEntry): ArtifactFile[] {
  const blob = cache.blobPath(entry.sha256);
  return a.install.flatMap((rule) => {
    if (rule.select.kind !== 'download') return [];
    const name = rule.select.installName;
    return [{ name, installPath: path.join(rule.dir, name), mode: rule.mode, sha256: entry.sha256, size: entry.size, cachePath: blob }];
  });
}

/**
 * The archive's members for the install rules: the recorded extraction when every member still
 * hashes to its name, else extracted again from the (verified) archive.
 */
async function archiveFiles(
  a: ResolvedArtifact,
  cache: ArtifactCache,
  archiveSha256: string,
  verifiedArchive: () => Promise<UrlEntry>,
  repairs: string[],
): Promise<ArtifactFile[]> {
  const key = rulesKey(a.install);
  let extracted = await cache.lookupExtraction(archiveSha256, key);
  if (extracted) {
    let intact = true;
    for (const m of extracted.members) {
      const bad = await cache.verifyBlob(m.sha256);
      if (!bad) continue;
      repairs.push(repairWarning(a, bad, 'extracted again from its archive'));
      intact = false;
    }
    if (!intact) extracted = undefined;
  }
  if (!extracted) {
    const archive = await verifiedArchive();
    extracted = await extractMembers(cache, cache.blobPath(archive.sha256), archive.sha256, a.install, label(a));
    await cache.recordExtraction(key, extracted);
  }
  return extracted.members.map((m) => {
    const rule = a.install[m.rule]!;
    return {
      name: m.installName,
      installPath: path.join(rule.dir, m.installName),
      mode: rule.mode,
      sha256: m.sha256,
      size: m.size,
      cachePath: cache.blobPath(m.sha256),
    };
  });
}

function requireMembers(a: ResolvedArtifact, files: readonly ArtifactFile[]): void {
  const names = new Set(files.map((f) => f.name));
  const missing = a.required.filter((n) => !names.has(n));
  if (missing.length > 0) {
    const what = a.archive === 'binary' ? 'binary' : 'archive';
    throw new KprovError('artifact', `${label(a)}: ${a.url} does not contain ${missing.join(', ')}`, {
      hint: `check that the URL (${a.urlVar} or files_repo) points at the ${a.id} release ${what}`,
    });
  }
}

export function repairWarning(a: ResolvedArtifact, bad: CorruptBlob, how: string): string {
  return `${label(a)}: cache entry ${bad.path} was corrupt (${bad.found}); ${how}`;
}

/** A corrupt blob that could not be fetched again: the fetch's own error, saying so first. */
function unrestorable(a: ResolvedArtifact, bad: CorruptBlob, err: unknown): unknown {
  if (!(err instanceof KprovError)) return err;
  const reason = err.message.startsWith(`${label(a)}: `) ? err.message.slice(label(a).length + 2) : err.message;
  return new KprovError(err.code, `${label(a)}: cache entry ${bad.path} was corrupt (${bad.found}) and could not be restored: ${reason}`, {
    ...(err.hint ? { hint: err.hint } : {}),
    exitCode: err.exitCode,
    cause: err,
  });
}

/**
 * Ensures one artifact is in the cache; see downloadArtifacts. Every cached file handed out is
 * hashed first (once per run and blob): a blob that no longer matches its name is deleted and
 * fetched again (or extracted again), with a warning, so corrupt bytes never reach a host.
 */
export async function downloadArtifact(
  a: ResolvedArtifact,
  cache: ArtifactCache,
  http: HttpOptions,
  emit: (e: ArtifactEvent) => void,
): Promise<CachedArtifact> {
  const warm = await warmEntry(a, cache, http, emit);
  if (warm) emit({ type: 'cached', artifact: a });
  let got: Fetched = warm ?? (await fetchFresh(a, cache, http, emit));
  let status: CachedArtifact['status'] = warm ? 'cached' : 'downloaded';
  const repairs: string[] = [];

  // The download itself as it is about to be used (sent as is, or unpacked).
  const verifiedDownload = async (): Promise<UrlEntry> => {
    const bad = await cache.verifyBlob(got.entry.sha256);
    if (!bad) return got.entry;
    try {
      got = await fetchFresh(a, cache, http, emit);
    } catch (err) {
      throw unrestorable(a, bad, err);
    }
    status = 'downloaded';
    repairs.push(repairWarning(a, bad, 'fetched again'));
    return got.entry;
  };

  const files =
    a.archive === 'binary'
      ? binaryFiles(a, cache, await verifiedDownload())
      : await archiveFiles(a, cache, got.entry.sha256, verifiedDownload, repairs);
  requireMembers(a, files);
  const { entry, verification } = got;
  const result: CachedArtifact = {
    artifact: a,
    sha256: entry.sha256,
    size: entry.size,
    cachePath: cache.blobPath(entry.sha256),
    status,
    verification,
    files,
    warnings: [...(verification === 'skipped' ? [insecureWarning(a)] : []), ...repairs],
  };
  emit({ type: 'done', result });
  return result;
}

/**
 * Ensures every artifact is in the cache, a bounded number at once; results in input order.
 * Artifacts with the same URL are fetched once. When some fail, the others still finish (nothing
 * is left half-written) and the first failure is thrown; every failure is also emitted.
 */
export async function downloadArtifacts(artifacts: readonly ResolvedArtifact[], options: DownloadOptions): Promise<CachedArtifact[]> {
  const cache = await ArtifactCache.open(options.cacheDir);
  const http: HttpOptions = { ...DEFAULT_HTTP_OPTIONS, ...options.http };
  const emit = options.onEvent ?? (() => undefined);
  const limit = pLimit(Math.max(1, options.concurrency ?? 4));
  const byUrl = new Map<string, Promise<CachedArtifact>>();
  const tasks = artifacts.map((a) => {
    const key = `${a.url}\n${JSON.stringify(a.checksum)}\n${JSON.stringify(a.install)}`;
    let task = byUrl.get(key);
    if (!task) {
      task = limit(() => downloadArtifact(a, cache, http, emit)).catch((err: unknown) => {
        if (err instanceof KprovError) emit({ type: 'failed', artifact: a, error: err });
        throw err;
      });
      byUrl.set(key, task);
    }
    return task;
  });
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<CachedArtifact>).value);
}
