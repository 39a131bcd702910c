/**
 * Which of the other members' client URLs accept a TCP connection from this host, all probed at
 * once with a 2 s bound each. On a new cluster nobody listens yet: a refused port answers at once,
 * where `etcdctl member list` would keep retrying it until its dial timeout (2 s per run, on every
 * member). etcdctl then asks only the members that listen.
 */
import { shScript } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';

/** Without bash (its /dev/tcp) the probe cannot tell: every endpoint is asked, as before. */
const PROBE_SCRIPT = String.raw`command -v bash >/dev/null 2>&1 || { echo all; exit 0; }
i=0
while [ $# -gt 1 ]; do
  ( timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null && echo "open $i" ) &
  i=$((i + 1))
  shift 2
done
wait`;

/** `https://[fd00::1]:2379` → `fd00::1`, `2379`. */
export function hostAndPort(url: string): [string, string] {
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return [u.hostname.replace(/^\[(.*)\]$/, '$1'), port];
}

/** Parses the probe's output into the endpoints that listen (all of them when it cannot tell). */
export function parseReachable(stdout: string, endpoints: readonly string[]): string[] {
  const lines = stdout.split('\n').map((l) => l.trim());
  if (lines.includes('all')) return [...endpoints];
  const open = new Set(lines.flatMap((l) => (/^open (\d+)$/.exec(l) ? [Number(l.slice(5))] : [])));
  return endpoints.filter((_, i) => open.has(i));
}

export async function reachableEndpoints(host: RemoteHost, endpoints: readonly string[]): Promise<string[]> {
  if (endpoints.length === 0) return [];
  const r = await host.exec(shScript(PROBE_SCRIPT, endpoints.flatMap(hostAndPort), 'kprov-etcd-reachable'), { timeoutMs: 15_000 });
  // A probe that did not run (no shell tools, a lost channel) decides nothing: ask every endpoint.
  if (r.code !== 0) return [...endpoints];
  return parseReachable(r.stdout, endpoints);
}
