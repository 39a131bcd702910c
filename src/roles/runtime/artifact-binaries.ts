/**
 * One task that installs every file of an artifact (containerd's daemon, shims and ctr; the CNI
 * plugins; kubelet …) with the engine's `binary` helper, one `binary` per file.
 *
 * A no-op run costs one command for the whole artifact: the type, mode and sha256 of every file
 * are read together, and only files that differ go through their `binary` check (which then says
 * exactly what to change). Sixteen CNI plugins checked one by one cost sixteen SSH sessions.
 *
 * The artifact index is asked for only when the task is checked, not when the role lists its
 * tasks: listing happens for every play even when tags select none of the role's tasks
 * (`--tags ssh-keys`), and must not trigger downloads then.
 */
import { ensureArtifacts } from '../../cluster/artifacts.js';
import type { ArtifactFile } from '../../artifacts/download.js';
import type { ArtifactId } from '../../artifacts/ids.js';
import { KprovError } from '../../errors.js';
import { binary, type BinaryChange } from '../../engine/tasks/index.js';
import { HostCommandError } from '../../ssh/errors.js';
import { commandLine, shScript } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { Task, TaskContext } from '../types.js';

export interface ArtifactBinariesOptions {
  name?: string;
  artifact: ArtifactId;
  notify?: readonly string[];
  /** Remote paths that must be among the artifact's files (the paths units and configs name). */
  expect?: readonly string[];
}

export interface ArtifactBinaryChange extends BinaryChange {
  /** Which of the artifact's files this change is about. */
  file: number;
}

/**
 * One line per path: `missing`, or `TYPE|MODE|OWNER|GROUP|SHA256` (`-` when not a regular file).
 * openssl hashes 3–4× faster than coreutils' sha256sum where the CPU has SHA extensions, and
 * hashing is most of a no-op check of large binaries; sha256sum is the fallback.
 */
export const STAT_MANY_SCRIPT = `export LC_ALL=C
if command -v openssl >/dev/null 2>&1; then fast=1; else fast=; fi
for p in "$@"; do
  if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo missing; continue; fi
  s=$(stat -c "%F|%a|%U|%G" -- "$p") || s="error|0|?|?"
  h=-
  if [ -f "$p" ] && [ ! -L "$p" ]; then
    if [ -n "$fast" ]; then h=$(openssl dgst -sha256 -r "$p" 2>/dev/null | cut -d " " -f 1); fi
    case $h in ${'?'.repeat(64)}) ;; *) h=$(sha256sum -- "$p" | cut -d " " -f 1) ;; esac
  fi
  printf '%s|%s\\n' "$s" "$h"
done`;

/** The files among `files` that are already exactly in place (regular file, same sha256, same mode). */
export async function filesInPlace(host: RemoteHost, files: readonly ArtifactFile[]): Promise<boolean[]> {
  if (files.length === 0) return [];
  const argv = shScript(STAT_MANY_SCRIPT, files.map((f) => f.installPath), 'kprov-stat-many');
  const r = await host.exec(argv, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new HostCommandError({ host: host.name, command: commandLine(argv), ...r });
  const lines = r.stdout.split('\n');
  return files.map((f, i) => {
    const [kind = '', mode = '', , , sha = ''] = (lines[i] ?? '').split('|');
    return kind.startsWith('regular') && sha === f.sha256.toLowerCase() && Number.parseInt(mode, 8) === f.mode;
  });
}

export function artifactBinaries(options: ArtifactBinariesOptions): Task<ArtifactBinaryChange> {
  let tasks: Task<BinaryChange>[] = [];
  const filesOf = async (ctx: TaskContext): Promise<ArtifactFile[]> => {
    const index = await ensureArtifacts(ctx.shared);
    const files = index.filesFor(ctx.host.name, options.artifact);
    for (const want of options.expect ?? []) {
      if (!files.some((f) => f.installPath === want)) {
        throw new KprovError('internal', `the ${options.artifact} artifact installs no ${want} (it has ${files.map((f) => f.installPath).join(', ')})`, { host: ctx.host.name });
      }
    }
    // Only this artifact's warnings (e.g. an unverified checksum), so no host sees one twice.
    for (const w of index.warningsFor(ctx.host.name)) if (w.startsWith(`${options.artifact} `)) ctx.warn(w);
    return files;
  };
  return {
    name: options.name ?? `${options.artifact} binaries`,
    ...(options.notify ? { notify: options.notify } : {}),
    async check(host, ctx) {
      const files = await filesOf(ctx);
      tasks = files.map((f) => binary({ path: f.installPath, source: f.cachePath, sha256: f.sha256, mode: f.mode }));
      const inPlace = await filesInPlace(host, files);
      const changes: ArtifactBinaryChange[] = [];
      // Sequential: the few files that differ get the helper's own (exact) check.
      for (const [file, task] of tasks.entries()) {
        if (inPlace[file]) continue;
        for (const c of await task.check(host, ctx)) changes.push({ ...c, file });
      }
      return changes;
    },
    async apply(host, changes, ctx) {
      // One file at a time: uploads share the connection's single SFTP channel anyway.
      for (const [file, task] of tasks.entries()) {
        const own = changes.filter((c) => c.file === file);
        if (own.length > 0) await task.apply(host, own, ctx);
      }
    },
  };
}
