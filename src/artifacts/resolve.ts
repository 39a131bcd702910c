/**
 * From settings to the concrete downloads: the URL after `files_repo` and `<name>_download_url`,
 * where the checksum comes from, and the files each artifact installs on a host.
 */
import path from 'node:path/posix';
import type { Digest, DigestAlgorithm } from './checksum.js';
import { CATALOGUE, CNI_BIN_DIR, type ArchiveKind, type CatalogueEntry, type MemberSelector } from './catalogue.js';
import { artifactVarName, checksumVar, downloadUrlVar, type ArtifactId, type ArtifactVarName } from './ids.js';
import type { Arch, ArtifactSettings } from './settings.js';

export interface ChecksumCandidate {
  url: string;
  algorithm: DigestAlgorithm;
  /** The name the checksum file lists the artifact under (the artifact URL's last segment). */
  fileName: string;
}

export type ChecksumSource =
  /** A pinned digest: `<name>_checksum` in group_vars, else the catalogue's. */
  | { kind: 'pinned'; digest: Digest; origin: 'group_vars' | 'catalogue' }
  /** Checksum files published next to the artifact, tried in order until one exists. */
  | { kind: 'published'; candidates: ChecksumCandidate[] }
  /** Nothing to verify against: refused unless --insecure-skip-checksum. */
  | { kind: 'none' }
  /** --insecure-skip-checksum: nothing is fetched or compared. */
  | { kind: 'skipped' };

/** One file an artifact puts on a host. */
export interface InstallSpec {
  select: MemberSelector;
  /** Absolute directory on the host. */
  dir: string;
  mode: number;
}

export interface ResolvedArtifact {
  id: ArtifactId;
  varName: ArtifactVarName;
  description: string;
  version: string;
  /** Variable the version comes from, for messages. */
  versionVar: string;
  arch: Arch;
  /** Inventory groups whose hosts need it. */
  groups: readonly string[];
  /** The upstream URL before `files_repo` or an override. */
  upstreamUrl: string;
  /** The URL actually fetched. */
  url: string;
  /** How the URL was chosen, for messages. */
  urlOrigin: 'upstream' | 'files_repo' | 'override';
  /** The URL's last path segment (what checksum files call it). */
  fileName: string;
  archive: ArchiveKind;
  checksum: ChecksumSource;
  install: InstallSpec[];
  /** Installed names that must be present (else the archive is not the expected one). */
  required: readonly string[];
  /** `<name>_download_url` and `<name>_checksum`, for hints. */
  urlVar: string;
  checksumVar: string;
}

/** `https://HOST/PATH` → `{files_repo}/HOST/PATH`, as Kubespray's offline layout does. */
export function rebase(url: string, filesRepo: string): string {
  const u = new URL(url);
  return `${filesRepo}/${u.host}${u.pathname}${u.search}`;
}

function fileNameOf(url: string): string {
  return decodeURIComponent(path.basename(new URL(url).pathname));
}

export function resolveArtifact(entry: CatalogueEntry, settings: ArtifactSettings): ResolvedArtifact {
  const version = entry.version(settings);
  const arch = settings.arch;
  const varName = artifactVarName(entry.id);
  const override = settings.overrides[varName];
  const upstreamUrl = entry.url(version, arch);
  let url = upstreamUrl;
  let urlOrigin: ResolvedArtifact['urlOrigin'] = 'upstream';
  if (override?.url) {
    url = override.url;
    urlOrigin = 'override';
  } else if (settings.files_repo) {
    url = rebase(upstreamUrl, settings.files_repo);
    urlOrigin = 'files_repo';
  }
  const fileName = fileNameOf(url);

  let checksum: ChecksumSource;
  const pinned = entry.pinned(version, arch);
  if (settings.insecureSkipChecksum) checksum = { kind: 'skipped' };
  else if (override?.checksum) checksum = { kind: 'pinned', digest: override.checksum, origin: 'group_vars' };
  else if (pinned) checksum = { kind: 'pinned', digest: pinned, origin: 'catalogue' };
  else {
    const candidates = entry.checksumFiles(version, arch).map((rule) => ({ url: rule.at(url), algorithm: rule.algorithm, fileName }));
    checksum = candidates.length > 0 ? { kind: 'published', candidates } : { kind: 'none' };
  }

  return {
    id: entry.id,
    varName,
    description: entry.description,
    version,
    versionVar: entry.versionVar,
    arch,
    groups: entry.groups,
    upstreamUrl,
    url,
    urlOrigin,
    fileName,
    archive: entry.archive,
    checksum,
    install: entry.install(version, arch).map((rule) => ({
      select: rule.select,
      dir: rule.dir === 'cni_bin_dir' ? CNI_BIN_DIR : settings.bin_dir,
      mode: rule.mode,
    })),
    required: entry.required(version, arch),
    urlVar: downloadUrlVar(entry.id),
    checksumVar: checksumVar(entry.id),
  };
}

/** Every artifact of the catalogue, resolved for these settings (in catalogue order). */
export function resolveArtifacts(settings: ArtifactSettings): ResolvedArtifact[] {
  return CATALOGUE.map((entry) => resolveArtifact(entry, settings));
}

/** The artifacts a host in these groups needs. */
export function artifactsForGroups(artifacts: readonly ResolvedArtifact[], groups: readonly string[]): ResolvedArtifact[] {
  return artifacts.filter((a) => a.groups.some((g) => groups.includes(g)));
}
