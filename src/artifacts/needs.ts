/**
 * Which artifacts an inventory needs, from its hosts: each host's own variables (architecture and
 * versions may differ per host) and groups. Hosts that need the same download share one entry.
 */
import { KprovError, type SourceLocation } from '../errors.js';
import { artifactsForGroups, resolveArtifacts, type ResolvedArtifact } from './resolve.js';
import { settingsFromVars } from './settings.js';

/** The part of an inventory host this needs (InventoryHost fits). */
export interface ArtifactHost {
  name: string;
  groups: readonly string[];
  vars: Readonly<Record<string, unknown>>;
}

export interface PlannedArtifact {
  artifact: ResolvedArtifact;
  /** Names of the hosts that need it, in inventory order. */
  hosts: string[];
}

export interface PlanOptions {
  insecureSkipChecksum?: boolean;
  locate?: (host: string, variable: string) => SourceLocation | undefined;
}

/** Same download, same verification, same files on the host: one entry. */
export function artifactKey(a: ResolvedArtifact): string {
  return JSON.stringify([a.url, a.checksum, a.install]);
}

export function planArtifacts(hosts: readonly ArtifactHost[], options: PlanOptions = {}): PlannedArtifact[] {
  const planned = new Map<string, PlannedArtifact>();
  for (const host of hosts) {
    let resolved: ResolvedArtifact[];
    try {
      const locate = options.locate;
      const settings = settingsFromVars(host.vars, {
        insecureSkipChecksum: options.insecureSkipChecksum ?? false,
        ...(locate ? { locate: (variable: string) => locate(host.name, variable) } : {}),
      });
      resolved = resolveArtifacts(settings);
    } catch (err) {
      if (err instanceof KprovError && err.host === undefined) {
        throw new KprovError(err.code, err.message, {
          host: host.name,
          ...(err.location ? { location: err.location } : {}),
          ...(err.hint ? { hint: err.hint } : {}),
        });
      }
      throw err;
    }
    for (const artifact of artifactsForGroups(resolved, host.groups)) {
      const key = artifactKey(artifact);
      const entry = planned.get(key);
      if (entry) entry.hosts.push(host.name);
      else planned.set(key, { artifact, hosts: [host.name] });
    }
  }
  return [...planned.values()];
}
