/**
 * Release versions as the upstream projects write them (`v1.13.5`, `1.6.20`, `v1.0.0-rc92`) and
 * their order. Only what the catalogue needs to pick URL and checksum layouts: `semver` is not used
 * because it orders `rc92` before `rc4` (pre-release parts compare as text) and runc names its
 * release candidates that way.
 */

export interface ReleaseVersion {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release part after `-`, e.g. `rc92`; undefined for a release. */
  pre: string | undefined;
}

const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/;

export function parseVersion(text: string): ReleaseVersion | undefined {
  const m = VERSION.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] };
}

/** Splits `rc92` / `rc.1` into text and number runs so `rc4` < `rc10` < `rc92`. */
function preParts(pre: string): (string | number)[] {
  return (pre.match(/\d+|[A-Za-z]+/g) ?? []).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

function comparePre(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1; // a release sorts after its pre-releases
  if (b === undefined) return -1;
  const pa = preParts(a);
  const pb = preParts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export function compareVersions(a: ReleaseVersion, b: ReleaseVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || comparePre(a.pre, b.pre);
}

/** True when `version` (text) is at least `minimum` (text). Both must parse. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const v = parseVersion(version);
  const min = parseVersion(minimum);
  if (!v || !min) throw new Error(`cannot compare versions ${version} and ${minimum}`);
  return compareVersions(v, min) >= 0;
}
