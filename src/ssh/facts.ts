/** Host facts in one round trip: a small POSIX sh script prints key=value lines, zod checks them. */
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { KprovError } from '../errors.js';
import { shScript } from './quote.js';
import type { RemoteHost } from './types.js';

/** Hardware and OS of a host, read once per run on demand. */
export interface HostFacts {
  hostname: string;
  /** /etc/os-release ID and VERSION_ID, e.g. `debian` and `12`. */
  os: { id: string; versionId: string; prettyName: string };
  /** `uname -m`, e.g. `x86_64`. */
  arch: string;
  kernel: string;
  cpus: number;
  memoryMb: number;
  swapMb: number;
  /** Major version of systemd, undefined when systemctl is missing. */
  systemdVersion: number | undefined;
  /** Source address of the default IPv4 route, undefined when there is none. */
  defaultIPv4: string | undefined;
}

/**
 * Only coreutils, /proc and (when present) iproute2 and systemctl. The default IPv4 is the `src`
 * of the default route, else the first global address of its device; SSH_CONNECTION's server
 * address (the interface our connection arrived on) is the fallback for hosts without one.
 */
const FACTS_SCRIPT = `LC_ALL=C; export LC_ALL
kv() { printf '%s=%s\\n' "$1" "$2"; }
kv hostname "$(uname -n)"
if [ -r /etc/os-release ]; then (. /etc/os-release; kv os_id "\${ID:-}"; kv os_version "\${VERSION_ID:-}"; kv os_name "\${PRETTY_NAME:-}"); fi
kv arch "$(uname -m)"
kv kernel "$(uname -r)"
kv cpus "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
while read -r k v _; do case $k in MemTotal:) kv mem_kb "$v";; SwapTotal:) kv swap_kb "$v";; esac; done < /proc/meminfo
if command -v systemctl >/dev/null 2>&1; then kv systemd "$(systemctl --version 2>/dev/null | { read -r _ v _; echo "$v"; })"; fi
if command -v ip >/dev/null 2>&1; then
  set -- $(ip -4 route show default 2>/dev/null)
  dev=; src=
  while [ $# -ge 2 ]; do case $1 in dev) dev=$2;; src) src=$2;; esac; shift; done
  if [ -z "$src" ] && [ -n "$dev" ]; then
    src=$(ip -4 -o addr show dev "$dev" scope global 2>/dev/null | { read -r _ _ _ a _; echo "\${a%/*}"; })
  fi
  kv route_ipv4 "$src"
fi
set -- \${SSH_CONNECTION:-}
kv ssh_server_ip "\${3:-}"`;

const int = (what: string) =>
  z
    .string()
    .regex(/^\d+$/, `${what} is not a number`)
    .transform(Number);

const rawFactsSchema = z.object({
  hostname: z.string().min(1),
  os_id: z.string().default(''),
  os_version: z.string().default(''),
  os_name: z.string().default(''),
  arch: z.string().min(1),
  kernel: z.string().min(1),
  cpus: int('cpus'),
  mem_kb: int('MemTotal'),
  swap_kb: int('SwapTotal').default(0),
  systemd: z.string().optional(),
  route_ipv4: z.string().optional(),
  ssh_server_ip: z.string().optional(),
});

/** Checks the values before they become HostFacts. */
export const factsSchema = z.object({
  hostname: z.string().min(1),
  os: z.object({ id: z.string(), versionId: z.string(), prettyName: z.string() }),
  arch: z.string().min(1),
  kernel: z.string().min(1),
  cpus: z.number().int().positive(),
  memoryMb: z.number().int().nonnegative(),
  swapMb: z.number().int().nonnegative(),
  systemdVersion: z.number().int().positive().optional(),
  defaultIPv4: z.ipv4().optional(),
});

/** Parses the facts script's output. Exported for tests. */
export function parseFacts(output: string): HostFacts {
  const raw: Record<string, string> = {};
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) raw[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  const r = rawFactsSchema.parse(raw);
  const systemd = r.systemd !== undefined ? /^(\d+)/.exec(r.systemd)?.[1] : undefined;
  const f = factsSchema.parse({
    hostname: r.hostname,
    os: { id: r.os_id, versionId: r.os_version, prettyName: r.os_name },
    arch: r.arch,
    kernel: r.kernel,
    cpus: r.cpus,
    memoryMb: Math.floor(r.mem_kb / 1024),
    swapMb: Math.floor(r.swap_kb / 1024),
    systemdVersion: systemd === undefined ? undefined : Number(systemd),
    defaultIPv4: [r.route_ipv4, r.ssh_server_ip].find((a): a is string => a !== undefined && isIPv4(a)),
  });
  return { ...f, systemdVersion: f.systemdVersion, defaultIPv4: f.defaultIPv4 };
}

/** The facts script as argv, for callers that run it themselves. */
export function factsCommand(): string[] {
  return shScript(FACTS_SCRIPT, [], 'kprov-facts');
}

/** Reads a host's facts with one command. Runs as the login user: nothing here needs root. */
export async function gatherFacts(host: RemoteHost): Promise<HostFacts> {
  const r = await host.run(factsCommand(), { asLoginUser: true });
  try {
    return parseFacts(r.stdout);
  } catch (err) {
    const detail = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : String(err);
    throw new KprovError('host', `cannot read host facts: ${detail}`, { host: host.name });
  }
}
