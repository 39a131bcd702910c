/**
 * One task that puts the files of an artifact on a host (containerd's daemon, shims and ctr; the
 * CNI plugins; etcd; kubelet …), both ways `download_localhost` allows:
 *
 * - true (the default): the files the control host downloaded and verified are uploaded with the
 *   engine's `binary` helper, one per file. The task declares every install path, so the engine
 *   stats and hashes them all in its one read of the play: on a host where everything is in
 *   place the task costs no command, and only the files that differ are uploaded.
 * - false: the host downloads, verifies and installs the artifact itself (remoteFetchCommand).
 *   What it installed is recorded in a manifest on the host (the artifact's identity — URL,
 *   checksum source, install rules — and the sha256 and mode of every file), so the check
 *   compares the files' sha256s with that record and a no-op run downloads nothing.
 *
 * The artifact index is asked for only when the task is read or checked, not when the role lists
 * its tasks: listing happens for every play even when tags select none of the role's tasks
 * (`--tags ssh-keys`), and must not trigger downloads then.
 */
import { createHash } from 'node:crypto';
import path from 'node:path/posix';
import type { ArtifactFile } from '../artifacts/download.js';
import { label } from '../artifacts/download.js';
import type { ArtifactId } from '../artifacts/ids.js';
import { artifactKey } from '../artifacts/needs.js';
import { remoteFetchCommand } from '../artifacts/remote-fetch.js';
import type { ResolvedArtifact } from '../artifacts/resolve.js';
import { binary, probeRun, type BinaryChange } from '../engine/tasks/index.js';
import { KprovError } from '../errors.js';
import type { Change, HostRunState, ProbeCommand, RemoteReads, Task, TaskContext } from '../engine/contract.js';
import { shScript } from '../ssh/quote.js';
import type { ArtifactIndex } from './artifact-index.js';

/** What the task needs of the run: its artifact index (a ClusterRun has one). */
export interface ArtifactSource {
  artifacts(): Promise<ArtifactIndex>;
}

/** The tag every artifact task carries; roles that use artifactBinaries declare it in taskTags. */
export const DOWNLOAD_TAG = 'download';

export interface ArtifactBinariesOptions {
  name?: string;
  artifact: ArtifactId;
  notify?: readonly string[];
  tags?: readonly string[];
  /** Only the artifact's files with these installed names (e.g. etcd without etcdctl). Default: all. */
  files?: (name: string) => boolean;
  /** Remote paths that must be among the artifact's files (the paths units and configs name). */
  expect?: readonly string[];
}

export interface ArtifactBinaryChange extends Change {
  kind: 'binary';
  /** Push: which of the selected files this change is about. Fetch: absent (the host fetches it all). */
  file?: number;
}

/** Where a host that fetches its own artifacts records what it installed. */
export const MANIFEST_DIR = '/var/lib/kprov/artifacts';
const MANIFEST_HEADER = 'kprov installed artifact v1';
/** Bound on a host's own download, verification and install of one artifact. */
const FETCH_TIMEOUT_MS = 30 * 60_000;

export function manifestPath(id: ArtifactId): string {
  return `${MANIFEST_DIR}/${id}.manifest`;
}

/** The same download, verification and install rules: the same identity. */
export function artifactIdentity(a: ResolvedArtifact): string {
  return createHash('sha256').update(artifactKey(a)).digest('hex');
}

/**
 * `show MANIFEST`: the manifest, `--- current`, then `SHA256 MODE PATH` (or `missing - PATH`) for
 * every file it lists, as the host has them now; nothing when there is no manifest.
 * `hash PATH…`: the same line for each path. Read-only either way.
 */
const INSTALLED_SCRIPT = `export LC_ALL=C
if command -v openssl >/dev/null 2>&1; then h() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }; else h() { sha256sum -- "$1" | cut -d' ' -f1; }; fi
line() { if [ -f "$1" ] && [ ! -L "$1" ]; then printf '%s %s %s\\n' "$(h "$1")" "$(stat -c %a -- "$1")" "$1"; else printf 'missing - %s\\n' "$1"; fi; }
if [ "$1" = hash ]; then shift; for p; do line "$p"; done; exit 0; fi
[ -f "$2" ] || exit 0
cat -- "$2"
echo '--- current'
tail -n +3 -- "$2" | while read -r sha mode p; do line "$p"; done`;

const installedProbe = (id: ArtifactId): ProbeCommand => ({ argv: shScript(INSTALLED_SCRIPT, ['show', manifestPath(id)], 'kprov-installed') });

interface FileLine {
  sha256: string;
  mode: number;
  path: string;
}

function parseLine(line: string): FileLine | undefined {
  const m = /^([0-9a-f]{64}|missing) ([0-7]+|-) (\/.*)$/.exec(line);
  if (!m) return undefined;
  return { sha256: m[1]!, mode: m[2] === '-' ? -1 : Number.parseInt(m[2]!, 8), path: m[3]! };
}

/** The manifest (undefined when there is none or it is not one) and the files as they are now. */
function parseInstalled(stdout: string): { identity?: string; recorded: FileLine[]; current: Map<string, FileLine> } {
  const [manifest = '', now = ''] = stdout.split('\n--- current\n');
  const lines = manifest.split('\n');
  if (lines[0] !== MANIFEST_HEADER) return { recorded: [], current: new Map() };
  const identity = /^identity ([0-9a-f]{64})$/.exec(lines[1] ?? '')?.[1];
  const recorded = lines.slice(2).flatMap((l) => parseLine(l) ?? []);
  const current = new Map(now.split('\n').flatMap((l) => parseLine(l) ?? []).map((f) => [f.path, f]));
  return { ...(identity ? { identity } : {}), recorded, current };
}

// Artifact warnings (unverified checksums) are shown once per host and run.
const warned = new WeakMap<HostRunState, Set<string>>();

function warnOnce(ctx: TaskContext, messages: readonly string[]): void {
  let seen = warned.get(ctx.state);
  if (!seen) warned.set(ctx.state, (seen = new Set()));
  for (const m of messages) {
    if (!seen.has(m)) ctx.warn(m);
    seen.add(m);
  }
}

type Source = { kind: 'push'; files: ArtifactFile[] } | { kind: 'fetch'; artifact: ResolvedArtifact };

export function artifactBinaries(options: ArtifactBinariesOptions): Task<ArtifactBinaryChange, ArtifactSource> {
  const id = options.artifact;
  const selected = (name: string) => options.files?.(name) ?? true;
  let source: Source | undefined;
  let uploads: Task<BinaryChange>[] = [];

  const sourceOf = async (ctx: TaskContext<ArtifactSource>): Promise<Source> => {
    if (source) return source;
    const index = await ctx.run.artifacts();
    // Only this artifact's warnings, so no host sees one twice.
    warnOnce(ctx, index.warningsFor(ctx.host.name).filter((w) => w.startsWith(`${id} `)));
    const artifact = index.fetchedBy?.(ctx.host.name, id);
    if (artifact) return (source = { kind: 'fetch', artifact });
    const files = index.filesFor(ctx.host.name, id).filter((f) => selected(f.name));
    for (const want of options.expect ?? []) {
      if (!files.some((f) => f.installPath === want)) {
        throw new KprovError('internal', `the ${id} artifact installs no ${want} (it has ${files.map((f) => f.installPath).join(', ')})`, { host: ctx.host.name });
      }
    }
    return (source = { kind: 'push', files });
  };

  return {
    name: options.name ?? `${id} binaries`,
    ...(options.notify ? { notify: options.notify } : {}),
    // Kubespray's `download` tag: --tags download puts every binary in place and nothing else.
    tags: [DOWNLOAD_TAG, ...(options.tags ?? [])],
    async reads(ctx): Promise<RemoteReads> {
      const s = await sourceOf(ctx);
      return s.kind === 'push' ? { paths: s.files.map((f) => f.installPath) } : { commands: [installedProbe(id)] };
    },
    async check(host, ctx) {
      const s = await sourceOf(ctx);
      if (s.kind === 'fetch') return checkFetched(host, ctx, s.artifact);
      uploads = s.files.map((f) => binary({ path: f.installPath, source: f.cachePath, sha256: f.sha256, mode: f.mode, owner: 'root', group: 'root' }));
      const changes: ArtifactBinaryChange[] = [];
      // Each file's own exact check; with the engine's read-ahead none of them is a command.
      for (const [file, task] of uploads.entries()) {
        for (const c of await task.check(host, ctx)) changes.push({ ...c, file });
      }
      return changes;
    },
    async apply(host, changes, ctx) {
      const s = await sourceOf(ctx);
      if (s.kind === 'fetch') {
        await fetchOnHost(host, s.artifact);
        return;
      }
      // One file at a time: uploads share the connection's single SFTP channel anyway.
      for (const [file, task] of uploads.entries()) {
        const own = changes.filter((c): c is ArtifactBinaryChange & BinaryChange => c.file === file);
        if (own.length > 0) await task.apply(host, own, ctx);
      }
    },
  };

  /** Whether the host's files are still what its last fetch of this very artifact installed. */
  async function checkFetched(host: Parameters<Task['check']>[0], ctx: TaskContext<ArtifactSource>, artifact: ResolvedArtifact): Promise<ArtifactBinaryChange[]> {
    const { identity, recorded, current } = parseInstalled((await probeRun(host, installedProbe(id), ctx)).stdout);
    const mine = recorded.filter((f) => selected(path.basename(f.path)));
    const differs = mine.find((f) => {
      const now = current.get(f.path);
      return !now || now.sha256 !== f.sha256 || now.mode !== f.mode;
    });
    const lacking = (options.expect ?? []).find((want) => !recorded.some((f) => f.path === want));
    const why =
      identity === undefined
        ? 'not installed by kprov yet'
        : identity !== artifactIdentity(artifact)
          ? 'a different release or source is installed'
          : differs
            ? `${differs.path} is not the file that was installed`
            : lacking
              ? `${lacking} is missing`
              : undefined;
    if (why === undefined) return [];
    return [{ kind: 'binary', summary: `download, verify and install ${label(artifact)} on the host (${why})` }];
  }

  /** Runs the host's own download, verification and install, then records what it installed. */
  async function fetchOnHost(host: Parameters<Task['apply']>[0], artifact: ResolvedArtifact): Promise<void> {
    const fetched = await host.run(remoteFetchCommand(artifact), { timeoutMs: FETCH_TIMEOUT_MS });
    const installed = fetched.stdout.split('\n').flatMap((l) => /^(?:changed|ok) (\/.+)$/.exec(l)?.[1] ?? []);
    for (const want of options.expect ?? []) {
      if (!installed.includes(want)) {
        throw new KprovError('artifact', `${label(artifact)}: ${artifact.url} installs no ${want} (it installed ${installed.join(', ') || 'nothing'})`, { host: host.name });
      }
    }
    const hashed = await host.run(shScript(INSTALLED_SCRIPT, ['hash', ...installed], 'kprov-installed'));
    const files = hashed.stdout.split('\n').flatMap((l) => parseLine(l) ?? []).filter((f) => f.sha256 !== 'missing');
    const manifest = [MANIFEST_HEADER, `identity ${artifactIdentity(artifact)}`, ...files.map((f) => `${f.sha256} ${f.mode.toString(8)} ${f.path}`)];
    await host.writeFile(manifestPath(id), `${manifest.join('\n')}\n`, { mode: 0o644, owner: 'root', group: 'root' });
  }
}
