/**
 * One command that reads everything the tasks of a host's play declared (`Task.reads`): the
 * probes (run in the background, so they overlap the rest), the stat of every path with one
 * `stat` process, the sha256 of every regular file with one `openssl dgst` (sha256sum where
 * there is no openssl; openssl is 3–4× faster on CPUs with SHA extensions), and every unit with
 * one `systemctl show`. The script is fixed text; paths, units and probe command lines travel as
 * positional arguments. It only reads: probe output goes to a private temporary directory that
 * is removed on exit.
 *
 * Output, in this order (probe output last, framed by a random token it cannot contain):
 *   M|PATH                            PATH does not exist
 *   S|TYPE|MODE|OWNER|GROUP|PATH      stat of an existing PATH
 *   H|HEX *PATH  (or HEX  PATH)       sha256 of a regular file
 *   U|KEY=VALUE  … (U| alone between units)   systemctl show, one block per unit, in order
 *   @TOKEN C i STATUS \n stdout \n@TOKEN E i \n stderr \n@TOKEN Z i
 */
import { randomBytes } from 'node:crypto';
import type { ProbeCommand } from './contract.js';
import { commandLine, shScript, withEnv } from '../ssh/quote.js';
import type { ExecResult } from '../ssh/types.js';
import { pathType, type PathStat } from './tasks/remote-stat.js';
import { parseUnitState, UNIT_PROPERTIES, type UnitState } from './tasks/unit-state.js';

export const PREFETCH_NAME = 'kprov-read';

export const PREFETCH_SCRIPT = `export LC_ALL=C
tok=$1 m=$2
shift 2
d=$(mktemp -d "\${TMPDIR:-/tmp}/kprov-read.XXXXXX" 2>/dev/null) || d=
if [ -n "$d" ]; then trap 'rm -rf -- "$d"' EXIT; fi
k=0
while [ "$k" -lt "$m" ]; do
  if [ -n "$d" ]; then
    (
      if [ -n "$2" ] && ! systemctl is-active --quiet -- "$2" 2>/dev/null; then echo inactive >"$d/$k.r"; exit 0; fi
      timeout -k 2 "$1" sh -c "$3" >"$d/$k.o" 2>"$d/$k.e" </dev/null
      echo "$?" >"$d/$k.r"
    ) &
  fi
  shift 3
  k=$((k + 1))
done
miss() { if [ ! -e "$1" ] && [ ! -L "$1" ]; then printf 'M|%s\\n' "$1"; fi; }
have() { if [ -e "$1" ] || [ -L "$1" ]; then printf '%s\\0' "$1"; fi; }
reg() { if [ -f "$1" ] && [ ! -L "$1" ]; then printf '%s\\0' "$1"; fi; }
each() { f=$1 c=$2; shift 2; while [ "$c" -gt 0 ]; do "$f" "$1"; shift; c=$((c - 1)); done; }
n=$1
shift
if [ "$n" -gt 0 ]; then
  each miss "$n" "$@"
  each have "$n" "$@" | xargs -0 -r stat -c 'S|%F|%a|%U|%G|%n' --
  if command -v openssl >/dev/null 2>&1; then
    each reg "$n" "$@" | xargs -0 -r openssl dgst -sha256 -r | sed 's/^/H|/'
  else
    each reg "$n" "$@" | xargs -0 -r sha256sum -- | sed 's/^/H|/'
  fi
  shift "$n"
fi
u=$1
shift
if [ "$u" -gt 0 ]; then systemctl show --property=${UNIT_PROPERTIES} -- "$@" 2>/dev/null | sed 's/^/U|/'; fi
wait
k=0
while [ "$k" -lt "$m" ]; do
  if [ -n "$d" ] && [ -f "$d/$k.r" ]; then
    printf '@%s C %s %s\\n' "$tok" "$k" "$(cat "$d/$k.r")"
    cat "$d/$k.o" 2>/dev/null
    printf '\\n@%s E %s\\n' "$tok" "$k"
    cat "$d/$k.e" 2>/dev/null
    printf '\\n@%s Z %s\\n' "$tok" "$k"
  fi
  k=$((k + 1))
done`;

/** Probe commands' default bound inside the read. */
export const DEFAULT_PROBE_TIMEOUT_MS = 30_000;

/** The same command with the same environment is the same probe. */
export function probeKey(command: Pick<ProbeCommand, 'argv' | 'env'>): string {
  return JSON.stringify([command.argv, command.env ?? {}]);
}

export interface PrefetchRequest {
  paths: readonly string[];
  units: readonly string[];
  commands: readonly ProbeCommand[];
}

export interface PrefetchOutcome {
  /** path → its stat (undefined: it does not exist). Paths it could not read completely are absent. */
  stats: Map<string, PathStat | undefined>;
  /** unit → its state (absent when systemctl did not answer for every unit). */
  units: Map<string, UnitState>;
  /** probeKey → the command's result (absent when it did not run: unit inactive, no temp directory). */
  commands: Map<string, ExecResult>;
}

// A newline in a path would break the line format (and no path kprov manages has one).
function usablePath(p: string): boolean {
  return p.startsWith('/') && !p.includes('\n') && !p.includes('\\');
}

export function newToken(): string {
  return randomBytes(12).toString('hex');
}

/** argv for the read; paths that cannot be expressed in its format are left out (they are read directly). */
export function prefetchArgv(request: PrefetchRequest, token: string): string[] {
  const paths = request.paths.filter(usablePath);
  const commandWords = request.commands.flatMap((c) => [
    ((c.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS) / 1000).toFixed(1),
    c.whenActive ?? '',
    commandLine(withEnv(c.argv, c.env)),
  ]);
  return shScript(
    PREFETCH_SCRIPT,
    [token, String(request.commands.length), ...commandWords, String(paths.length), ...paths, String(request.units.length), ...request.units],
    PREFETCH_NAME,
  );
}

/** How long the read may take: its slowest probe, plus hashing every file. */
export function prefetchTimeoutMs(request: PrefetchRequest): number {
  const probes = Math.max(0, ...request.commands.map((c) => c.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS));
  return probes + 120_000;
}

const SHA_LINE = /^([0-9a-f]{64}) [ *](.*)$/;

export function parsePrefetch(output: string, request: PrefetchRequest, token: string): PrefetchOutcome {
  const marker = `@${token} `;
  const firstFrame = output.startsWith(marker) ? 0 : output.indexOf(`\n${marker}`);
  const head = firstFrame < 0 ? output : output.slice(0, firstFrame);
  const frames = firstFrame < 0 ? '' : output.slice(firstFrame === 0 ? 0 : firstFrame + 1);

  const stats = new Map<string, PathStat | undefined>();
  const hashes = new Map<string, string>();
  const unitLines: string[] = [];
  for (const line of head.split('\n')) {
    const kind = line.slice(0, 2);
    const rest = line.slice(2);
    if (kind === 'M|') stats.set(rest, undefined);
    else if (kind === 'S|') {
      const fields = rest.split('|');
      if (fields.length < 5) continue;
      const [type = '', mode = '', owner = '', group = ''] = fields;
      if (!/^[0-7]{1,4}$/.test(mode)) continue;
      stats.set(fields.slice(4).join('|'), { type: pathType(type), mode: Number.parseInt(mode, 8), owner, group });
    } else if (kind === 'H|') {
      const m = SHA_LINE.exec(rest);
      if (m) hashes.set(m[2]!, m[1]!);
    } else if (kind === 'U|') unitLines.push(rest);
  }
  // A regular file is known only with its hash; without one, the task reads it itself.
  for (const [p, s] of stats) {
    if (s?.type !== 'file') continue;
    const sha = hashes.get(p);
    if (sha) s.sha256 = sha;
    else stats.delete(p);
  }

  const units = new Map<string, UnitState>();
  const blocks = unitLines.join('\n').split(/\n\s*\n/).filter((b) => b.trim() !== '');
  if (blocks.length === request.units.length) request.units.forEach((u, i) => units.set(u, parseUnitState(blocks[i]!)));

  const commands = new Map<string, ExecResult>();
  const frame = new RegExp(`^@${token} C (\\d+) (\\S*)\\n([\\s\\S]*?)\\n@${token} E \\1\\n([\\s\\S]*?)\\n@${token} Z \\1$`, 'gm');
  for (const m of frames.matchAll(frame)) {
    const command = request.commands[Number(m[1])];
    const status = m[2]!;
    if (!command || !/^\d+$/.test(status)) continue;
    commands.set(probeKey(command), { code: Number(status), stdout: m[3]!, stderr: m[4]! });
  }
  return { stats, units, commands };
}
