/**
 * Artifacts for a run: everything the inventory's hosts need is downloaded and verified once on
 * the control host (the first role to ask triggers it), then each role uploads the files its
 * host needs. An upload is skipped when the host already has the same sha256.
 */
import { defaultCacheDir } from '../artifacts/cache.js';
import { downloadArtifacts, type ArtifactFile, type CachedArtifact } from '../artifacts/download.js';
import type { ArtifactId } from '../artifacts/ids.js';
import { planArtifacts } from '../artifacts/plan.js';
import { KprovError } from '../errors.js';
import type { SharedValues } from '../roles/types.js';
import { DEFAULT_RUN_OPTIONS } from './run-options.js';
import { inventoryOf } from './shared.js';

export interface ArtifactIndex {
  /** The files of `id` that `host` installs, with their cached copies; throws when `host` does not need `id`. */
  filesFor(host: string, id: ArtifactId): ArtifactFile[];
  /** Warnings to show on `host` (unverified checksums). */
  warningsFor(host: string): string[];
}

declare module '../roles/types.js' {
  interface SharedValues {
    artifacts?: Promise<ArtifactIndex>;
  }
}

async function download(shared: SharedValues): Promise<ArtifactIndex> {
  const inventory = inventoryOf(shared);
  const run = shared.run ?? DEFAULT_RUN_OPTIONS;
  // Validated variables (defaults included), so versions and URLs are the ones the roles use.
  const hosts = inventory.hosts.map((h) => ({ name: h.name, groups: h.groups, vars: inventory.hostVars(h.name) as Record<string, unknown> }));
  const planned = planArtifacts(hosts, { insecureSkipChecksum: run.insecureSkipChecksum });
  const cached = await downloadArtifacts(
    planned.map((p) => p.artifact),
    { cacheDir: defaultCacheDir(run.env) },
  );
  const byHost = new Map<string, Map<ArtifactId, CachedArtifact>>();
  planned.forEach((p, i) => {
    const result = cached[i]!;
    for (const host of p.hosts) {
      let own = byHost.get(host);
      if (!own) byHost.set(host, (own = new Map()));
      own.set(p.artifact.id, result);
    }
  });
  return {
    filesFor(host, id) {
      const result = byHost.get(host)?.get(id);
      if (!result) throw new KprovError('internal', `host ${host} does not need ${id} according to the artifact catalogue`, { host });
      return result.files;
    },
    warningsFor(host) {
      return [...(byHost.get(host)?.values() ?? [])].flatMap((r) => r.warnings);
    },
  };
}

/** Downloads (once per run) every artifact the inventory needs. */
export function ensureArtifacts(shared: SharedValues): Promise<ArtifactIndex> {
  shared.artifacts ??= download(shared);
  return shared.artifacts;
}
