/**
 * Takes the install rules' members out of a downloaded tar.gz into the cache (by sha256), so hosts
 * receive plain binaries and never unpack anything. Only regular files are taken; links, devices
 * and paths that climb out (`..`, absolute) are ignored, whatever the archive holds.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path/posix';
import { list, type ReadEntry } from 'tar';
import { KprovError } from '../errors.js';
import type { ArtifactCache, ExtractedMembers } from './cache.js';
import type { MemberSelector } from './catalogue.js';
import type { InstallSpec } from './resolve.js';

const REGULAR = new Set(['File', 'OldFile', 'ContiguousFile']);

/** `./bin/ctr` → `bin/ctr`; undefined for paths that are absolute or climb out. */
export function normalizeMemberPath(raw: string): string | undefined {
  if (raw.startsWith('/')) return undefined;
  const clean = path.normalize(raw.replace(/^(\.\/)+/, ''));
  if (clean === '.' || clean === '..' || clean.startsWith('../')) return undefined;
  return clean.replace(/\/+$/, '');
}

/** The install name a member gets under a selector, or undefined when it does not match. */
export function matchMember(select: MemberSelector, member: string, mode: number): string | undefined {
  const dir = path.dirname(member) === '.' ? '' : path.dirname(member);
  const name = path.basename(member);
  switch (select.kind) {
    case 'download':
      return undefined;
    case 'exact':
      return member === select.path ? select.installName : undefined;
    case 'prefix':
      return dir === select.dir && name.startsWith(select.prefix) ? name : undefined;
    case 'executables':
      return dir === select.dir && (mode & 0o111) !== 0 ? name : undefined;
  }
}

/** A short key for a set of install rules, so extraction results are cached per rule set. */
export function rulesKey(install: readonly InstallSpec[]): string {
  return createHash('sha256').update(JSON.stringify(install.map((r) => r.select))).digest('hex').slice(0, 16);
}

/**
 * Extracts every member some rule selects. Later duplicates of a path win, as with tar itself.
 * Throws KprovError('artifact') when the archive cannot be read.
 */
export async function extractMembers(
  cache: ArtifactCache,
  archivePath: string,
  archiveSha256: string,
  install: readonly InstallSpec[],
  label: string,
): Promise<ExtractedMembers> {
  const found = new Map<string, ExtractedMembers['members'][number]>();
  const pending: Promise<void>[] = [];
  const temps: string[] = [];

  const onEntry = (entry: ReadEntry) => {
    const member = normalizeMemberPath(entry.path);
    if (!member || !REGULAR.has(entry.type)) return;
    const mode = entry.mode ?? 0o644;
    let installName: string | undefined;
    let rule = 0;
    for (; rule < install.length; rule++) {
      installName = matchMember(install[rule]!.select, member, mode);
      if (installName) break;
    }
    if (!installName) return;
    const name = installName;
    const ruleIndex = rule;
    const temp = cache.tempPath(name);
    temps.push(temp);
    const hash = createHash('sha256');
    let size = 0;
    const out = createWriteStream(temp, { mode: 0o644 });
    pending.push(
      new Promise<void>((resolve, reject) => {
        out.on('error', reject);
        entry.on('error', reject);
        out.on('close', () => {
          if (out.bytesWritten !== size) {
            reject(new Error(`wrote ${out.bytesWritten} of ${size} bytes of ${member}`));
            return;
          }
          const sha256 = hash.digest('hex');
          cache
            .adopt(temp, sha256)
            .then(() => {
              found.set(name, { member, installName: name, rule: ruleIndex, sha256, size });
              resolve();
            })
            .catch(reject);
        });
      }),
    );
    // One 'data' listener does hashing and writing: with Minipass, a listener added before a
    // pipe() starts the flow at once and the pipe misses the chunks already buffered.
    entry.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
      if (!out.write(chunk)) {
        entry.pause();
        out.once('drain', () => entry.resume());
      }
    });
    entry.on('end', () => out.end());
  };

  try {
    await list({ file: archivePath, strict: true, onReadEntry: onEntry });
    await Promise.all(pending);
  } catch (err) {
    await Promise.allSettled(pending);
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    const reason = err instanceof Error ? err.message : String(err);
    throw new KprovError('artifact', `${label}: cannot read the archive: ${reason}`, {
      hint: 'the download is not a valid tar.gz; check the URL (or its override) points at the release tarball',
    });
  }
  return { archive: archiveSha256, members: [...found.values()].sort((a, b) => a.installName.localeCompare(b.installName)) };
}
