/**
 * `download_localhost: false`: the argv that makes a host download, verify and install an
 * artifact by itself with curl, sha256sum/sha512sum, tar, awk and cmp (all in a Debian base
 * system). The script is fixed text; everything variable travels as positional arguments, never
 * pasted into it. It keeps the download under a cache directory on the host (reused when it
 * still verifies), installs each file atomically (temp file in the target directory, fsync,
 * rename: a full disk leaves no partial binary in place), and prints `changed PATH` or `ok PATH`
 * per installed file. Exit status: 0 done, 3 verification failed or checksum missing, 4 the
 * archive lacks a required member, other: curl/tar/filesystem errors.
 */
import { createHash } from 'node:crypto';
import path from 'node:path/posix';
import type { ResolvedArtifact } from './resolve.js';

export const DEFAULT_REMOTE_CACHE_DIR = '/var/cache/kprov/downloads';

// No "$" + "{" anywhere in it: this is a String.raw template.
const SCRIPT = String.raw`set -eu
url=$1 dl=$2 kind=$3
shift 3
part="$dl.part" sums="$dl.sum" x="" t=""
cleanup() { rm -rf -- "$part" "$sums"; [ -z "$x" ] || rm -rf -- "$x"; [ -z "$t" ] || rm -f -- "$t"; }
trap cleanup EXIT
mkdir -p -- "$(dirname -- "$dl")"
algo="" expected="" insecure=no base="" tried=""
die() { code=$1; shift; echo "kprov-fetch: $*" >&2; exit "$code"; }
get() { curl -fsSL --retry 3 --retry-delay 1 --connect-timeout 30 --speed-limit 1 --speed-time 60 -o "$2" -- "$1"; }
# Checksum files may be missing (404 moves on to the next): no curl message for that.
get_quiet() { curl -fsL --retry 3 --retry-delay 1 --connect-timeout 30 --speed-limit 1 --speed-time 60 -o "$2" -- "$1"; }
sum_of() { "$1"sum -- "$2" | cut -d' ' -f1; }
lookup() {
  awk -v want="$3" -v L="$4" '
    /^-----BEGIN PGP SIGNATURE/ { sig = 1 }
    /^-----END PGP SIGNATURE/ { sig = 0; next }
    sig { next }
    { sub(/\r$/, "") }
    $1 ~ /^[0-9a-fA-F]+$/ && length($1) == L {
      if (NF == 1) { bare = $1; nb++; next }
      n = $2; sub(/^\*/, "", n); sub(/^\.\//, "", n); sub(/.*\//, "", n); named++
      if (n == want && !found) { print tolower($1); found = 1 }
    }
    END { if (!found && named == 0 && nb == 1) print tolower(bare) }' "$2"
}
verified() {
  if [ "$insecure" = yes ]; then return 0; fi
  [ "$(sum_of "$algo" "$1")" = "$expected" ]
}
put() {
  mkdir -p -- "$(dirname -- "$2")"
  if [ -f "$2" ] && cmp -s -- "$1" "$2" && [ "$(stat -c %a -- "$2")" = "$3" ]; then echo "ok $2"; return; fi
  t="$2.kprov-tmp.$$"
  cp -- "$1" "$t"
  chmod "$3" "$t"
  sync -- "$t" 2>/dev/null || sync
  mv -f -- "$t" "$2"
  t=""
  echo "changed $2"
}
while [ $# -gt 0 ]; do
  case $1 in
  pin) algo=$2 expected=$3; shift 3 ;;
  insecure) insecure=yes; shift ;;
  sum)
    if [ -z "$expected" ]; then
      rc=0; get_quiet "$3" "$sums" || rc=$?
      tried="$tried $3"
      if [ "$rc" -eq 0 ]; then
        expected=$(lookup "$2" "$sums" "$4" "$5")
        [ -n "$expected" ] || die 3 "checksum file $3 lists no $2 for $4"
        algo=$2
      elif [ "$rc" -ne 22 ]; then
        die "$rc" "cannot fetch checksum file $3 (curl exit $rc)"
      fi
    fi
    shift 5 ;;
  fetch)
    shift
    if [ "$insecure" = no ] && [ -z "$expected" ]; then
      if [ -n "$tried" ]; then die 3 "no checksum to verify $url (not found:$tried)"; fi
      die 3 "no checksum to verify $url"
    fi
    if ! { [ -f "$dl" ] && verified "$dl"; }; then
      get "$url" "$part"
      if ! verified "$part"; then
        die 3 "checksum mismatch for $url: expected $algo:$expected, got $algo:$(sum_of "$algo" "$part")"
      fi
      mv -f -- "$part" "$dl"
    fi
    if [ "$kind" = tar.gz ]; then
      x=$(mktemp -d "$dl.x.XXXXXX")
      tar -xzf "$dl" -C "$x" --no-same-owner
      base=$x
    fi ;;
  need) [ -f "$base/$2" ] || die 4 "$url has no $2"; shift 2 ;;
  file)
    case $2 in
    download) put "$dl" "$4" "$5" ;;
    exact) [ -f "$base/$3" ] || die 4 "$url has no $3"; put "$base/$3" "$4" "$5" ;;
    prefix)
      for f in "$base/$3"*; do if [ -f "$f" ]; then put "$f" "$4/$(basename -- "$f")" "$5"; fi; done ;;
    exec)
      for f in "$base/$3"*; do if [ -f "$f" ] && [ -x "$f" ]; then put "$f" "$4/$(basename -- "$f")" "$5"; fi; done ;;
    esac
    shift 5 ;;
  *) die 2 "unknown word $1" ;;
  esac
done
`;

const HEX_LENGTH = { sha256: '64', sha512: '128' } as const;

export interface RemoteFetchOptions {
  /** Where the host keeps downloads between runs. */
  cacheDir?: string;
  /** Prefix for every install path (like DESTDIR); for tests. */
  destDir?: string;
}

/** The host-side download file: stable per URL, so a re-run reuses it when it still verifies. */
export function remoteDownloadPath(a: ResolvedArtifact, cacheDir = DEFAULT_REMOTE_CACHE_DIR): string {
  const key = createHash('sha256').update(a.url).digest('hex').slice(0, 16);
  return path.join(cacheDir, `${key}-${a.fileName.replace(/[^A-Za-z0-9._-]/g, '_')}`);
}

/** argv for RemoteHost.exec/run: download, verify and install `a` on the host itself. */
export function remoteFetchCommand(a: ResolvedArtifact, options: RemoteFetchOptions = {}): string[] {
  const dest = (p: string) => (options.destDir ? path.join(options.destDir, p) : p);
  const words: string[] = [];
  const c = a.checksum;
  if (c.kind === 'skipped') words.push('insecure');
  else if (c.kind === 'pinned') words.push('pin', c.digest.algorithm, c.digest.hex);
  else if (c.kind === 'published') {
    for (const cand of c.candidates) words.push('sum', cand.algorithm, cand.url, cand.fileName, HEX_LENGTH[cand.algorithm]);
  }
  words.push('fetch');

  const exact = new Set<string>();
  for (const rule of a.install) {
    const s = rule.select;
    const mode = rule.mode.toString(8);
    if (s.kind === 'download') words.push('file', 'download', '-', dest(path.join(rule.dir, s.installName)), mode);
    else if (s.kind === 'exact') {
      words.push('file', 'exact', s.path, dest(path.join(rule.dir, s.installName)), mode);
      exact.add(s.installName);
    } else if (s.kind === 'prefix') words.push('file', 'prefix', s.dir ? `${s.dir}/${s.prefix}` : s.prefix, dest(rule.dir), mode);
    else words.push('file', 'exec', s.dir ? `${s.dir}/` : '', dest(rule.dir), mode);
  }
  // Every required member is checked in the unpacked archive before anything is installed.
  if (a.archive === 'tar.gz') {
    const checks: string[] = [];
    for (const rule of a.install) if (rule.select.kind === 'exact') checks.push('need', rule.select.path);
    for (const name of a.required) {
      if (exact.has(name)) continue;
      const rule = a.install.find((r) => r.select.kind === 'prefix' || r.select.kind === 'executables');
      const dir = rule && (rule.select.kind === 'prefix' || rule.select.kind === 'executables') ? rule.select.dir : '';
      checks.push('need', dir ? `${dir}/${name}` : name);
    }
    words.splice(words.indexOf('fetch') + 1, 0, ...checks);
  }
  return ['sh', '-c', SCRIPT, 'kprov-fetch', a.url, remoteDownloadPath(a, options.cacheDir), a.archive, ...words];
}
