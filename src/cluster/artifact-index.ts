/**
 * Artifacts for a run. With `download_localhost: true` (the default) everything the inventory's
 * hosts need is downloaded and verified once on the control host (the first role to ask triggers
 * it), then each role uploads the files its host needs; an upload is skipped when the host
 * already has the same sha256. With `download_localhost: false` nothing is downloaded here: each
 * artifact is only resolved (URL, checksum source, install rules), and each host downloads,
 * verifies and installs it by itself (see artifact-binaries.ts).
 */
import { defaultCacheDir } from '../artifacts/cache.js';
import { downloadArtifacts, insecureWarning, type ArtifactFile } from '../artifacts/download.js';
import type { ArtifactId } from '../artifacts/ids.js';
import { planArtifacts, type PlannedArtifact } from '../artifacts/needs.js';
import type { ResolvedArtifact } from '../artifacts/resolve.js';
import { KprovError } from '../errors.js';
import type { Inventory } from '../inventory/load.js';
import { proxyFromVars, type ProxySettings } from '../artifacts/proxy.js';

const withProxy = (proxy: ProxySettings | undefined) => (proxy ? { http: { proxy } } : {});

export interface ArtifactIndex {
  /**
   * The files of `id` that `host` installs, with their cached copies; throws when `host` does not
   * need `id`, or fetches it itself.
   */
  filesFor(host: string, id: ArtifactId): ArtifactFile[];
  /** Warnings to show on `host` (unverified checksums). */
  warningsFor(host: string): string[];
  /**
   * `download_localhost: false`: the artifact `host` downloads, verifies and installs by itself.
   * Undefined when the control host pushes it (then `filesFor` has its files).
   */
  fetchedBy?(host: string, id: ArtifactId): ResolvedArtifact | undefined;
}

/** host → artifact id → what it is (or what it became in the cache). */
function byHost<T>(planned: readonly PlannedArtifact[], values: readonly T[]): Map<string, Map<ArtifactId, T>> {
  const out = new Map<string, Map<ArtifactId, T>>();
  planned.forEach((p, i) => {
    for (const host of p.hosts) {
      let own = out.get(host);
      if (!own) out.set(host, (own = new Map()));
      own.set(p.artifact.id, values[i]!);
    }
  });
  return out;
}

function notNeeded(host: string, id: ArtifactId): KprovError {
  return new KprovError('internal', `host ${host} does not need ${id} according to the artifact catalogue`, { host });
}

/** What resolving needs of the run's options. */
export interface ArtifactIndexOptions {
  insecureSkipChecksum: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

/** Resolves every artifact the inventory needs; downloads them unless hosts fetch their own. */
export async function resolveArtifactIndex(inventory: Inventory, run: ArtifactIndexOptions): Promise<ArtifactIndex> {
  // Validated variables (defaults included), so versions and URLs are the ones the roles use.
  const hosts = inventory.hosts.map((h) => ({ name: h.name, groups: h.groups, vars: inventory.hostVars(h.name) as Record<string, unknown> }));
  const planned = planArtifacts(hosts, { insecureSkipChecksum: run.insecureSkipChecksum });

  if (!inventory.cluster.download_localhost) {
    const resolved = byHost(planned, planned.map((p) => p.artifact));
    return {
      filesFor(host, id) {
        throw new KprovError('internal', `${id} is not downloaded on the control host: with download_localhost: false, ${host} fetches it itself`, { host });
      },
      warningsFor(host) {
        return [...(resolved.get(host)?.values() ?? [])].filter((a) => a.checksum.kind === 'skipped').map(insecureWarning);
      },
      fetchedBy(host, id) {
        const artifact = resolved.get(host)?.get(id);
        if (!artifact) throw notNeeded(host, id);
        return artifact;
      },
    };
  }

  const cached = await downloadArtifacts(
    planned.map((p) => p.artifact),
    { cacheDir: defaultCacheDir(run.env), ...withProxy(proxyFromVars(inventory.cluster)) },
  );
  const results = byHost(planned, cached);
  return {
    filesFor(host, id) {
      const result = results.get(host)?.get(id);
      if (!result) throw notNeeded(host, id);
      return result.files;
    },
    warningsFor(host) {
      return [...(results.get(host)?.values() ?? [])].flatMap((r) => r.warnings);
    },
    fetchedBy: () => undefined,
  };
}
