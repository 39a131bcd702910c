/**
 * Checksums: the pins users write in group_vars and the checksum files upstream publishes next to
 * its releases. Cached files are addressed by sha256 whatever algorithm verified them.
 */

export type DigestAlgorithm = 'sha256' | 'sha512';

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];

const HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = { sha256: 64, sha512: 128 };

export interface Digest {
  algorithm: DigestAlgorithm;
  /** Lower-case hex. */
  hex: string;
}

export function formatDigest(d: Digest): string {
  return `${d.algorithm}:${d.hex}`;
}

function isHex(text: string, algorithm: DigestAlgorithm): boolean {
  return text.length === HEX_LENGTH[algorithm] && /^[0-9a-fA-F]+$/.test(text);
}

export const CHECKSUM_PIN_FORMS = 'sha256:<64 hex digits>, sha512:<128 hex digits> or 64 bare hex digits (sha256)';

/**
 * A pinned checksum as written in group_vars: `sha256:<hex>`, `sha512:<hex>`, or bare hex (64
 * digits = sha256, as Kubespray writes them; 128 = sha512). Undefined when it is none of these.
 */
export function parseChecksumPin(text: string): Digest | undefined {
  const value = text.trim();
  const m = /^(sha256|sha512):(.*)$/i.exec(value);
  if (m) {
    const algorithm = m[1]!.toLowerCase() as DigestAlgorithm;
    const hex = m[2]!.trim();
    return isHex(hex, algorithm) ? { algorithm, hex: hex.toLowerCase() } : undefined;
  }
  for (const algorithm of DIGEST_ALGORITHMS) {
    if (isHex(value, algorithm)) return { algorithm, hex: value.toLowerCase() };
  }
  return undefined;
}

export type ChecksumFileResult = { hex: string } | { problem: string };

/**
 * Finds the digest for `fileName` in a published checksum file. Accepts every layout upstream
 * uses: a bare digest (dl.k8s.io's `NAME.sha512`), `sha256sum` lines `<hex>  <name>` or
 * `<hex> *<name>` (containerd, CNI, etcd's SHA256SUMS, which lists every asset of the release),
 * and runc's PGP clear-signed `runc.sha256sum` (armor lines are skipped; the signature is not
 * checked: the digest is what is verified, as Kubespray does).
 */
export function parseChecksumFile(text: string, algorithm: DigestAlgorithm, fileName: string): ChecksumFileResult {
  const named = new Map<string, string>();
  const bare: string[] = [];
  let inSignature = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('-----BEGIN PGP SIGNATURE')) inSignature = true;
    if (line.startsWith('-----END PGP SIGNATURE')) {
      inSignature = false;
      continue;
    }
    if (inSignature || line === '' || line.startsWith('-----') || /^Hash:/i.test(line) || line.startsWith('#')) continue;
    const [first, ...rest] = line.split(/\s+/);
    if (first === undefined || !isHex(first, algorithm)) continue;
    const name = rest.join(' ').replace(/^\*/, '').replace(/^\.\//, '');
    if (name === '') bare.push(first.toLowerCase());
    else named.set(name.slice(name.lastIndexOf('/') + 1), first.toLowerCase());
  }
  const hit = named.get(fileName);
  if (hit) return { hex: hit };
  if (named.size === 0 && bare.length === 1) return { hex: bare[0]! };
  if (named.size > 0) return { problem: `it lists no ${algorithm} for ${fileName}` };
  if (bare.length > 1) return { problem: `it holds ${bare.length} digests and names no file` };
  return { problem: `it holds no ${algorithm} digest (${HEX_LENGTH[algorithm]} hex digits)` };
}
