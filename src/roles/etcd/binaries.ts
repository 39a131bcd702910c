/**
 * Binaries from the run's artifacts (downloaded and verified once on the control host), uploaded
 * with the engine's `binary` helper: a host that already has the same sha256 receives nothing.
 */
import type { ArtifactId } from '../../artifacts/ids.js';
import { ensureArtifacts } from '../../cluster/artifacts.js';
import { inventoryOf } from '../../cluster/shared.js';
import { KprovError } from '../../errors.js';
import { binary } from '../../engine/tasks/index.js';
import type { HostRunState, Task, TaskContext } from '../types.js';

// Artifact warnings (unverified checksums) are shown once per host and run, not per role.
const warned = new WeakMap<HostRunState, Set<string>>();

export interface ArtifactBinaryOptions {
  /** Handlers notified when a file of the artifact changes (per installed file name, or for all). */
  notify?: readonly string[] | ((fileName: string) => readonly string[]);
  tags?: readonly string[];
}

/** Fails unless the artifacts are pushed from the control host (download_localhost: true). */
export function requireLocalDownloads(ctx: Pick<TaskContext, 'shared'>, roles: string): void {
  if (!inventoryOf(ctx.shared).cluster.download_localhost) {
    throw new KprovError('config', `download_localhost: false is not supported by the ${roles} yet`, {
      hint: 'set download_localhost: true (the default): kprov downloads and verifies once, then pushes to the hosts',
    });
  }
}

/** One `binary` task per file the artifact installs on this host, in the artifact's order. */
export async function artifactBinaryTasks(ctx: TaskContext, id: ArtifactId, options: ArtifactBinaryOptions = {}): Promise<Task[]> {
  const index = await ensureArtifacts(ctx.shared);
  let seen = warned.get(ctx.state);
  if (!seen) warned.set(ctx.state, (seen = new Set()));
  for (const w of index.warningsFor(ctx.host.name)) {
    if (!seen.has(w)) ctx.warn(w);
    seen.add(w);
  }
  return index.filesFor(ctx.host.name, id).map((f) => {
    const notify = typeof options.notify === 'function' ? options.notify(f.name) : options.notify;
    return binary({
      name: `binary ${f.installPath}`,
      path: f.installPath,
      source: f.cachePath,
      sha256: f.sha256,
      mode: f.mode,
      owner: 'root',
      group: 'root',
      ...(notify && notify.length > 0 ? { notify } : {}),
      ...(options.tags ? { tags: options.tags } : {}),
    });
  });
}
