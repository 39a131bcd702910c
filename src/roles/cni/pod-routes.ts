/**
 * Desired state: a route to every other node's pod CIDR through that node's address, and none
 * left over from nodes that are gone. kprov's routes carry their own routing protocol number
 * (`proto 147`), so a stale one is told apart from routes someone else made and removed safely;
 * `ip route replace` makes each one idempotently. One `ip route show` per check.
 */
import { probeRun } from '../../engine/tasks/index.js';
import { shScript } from '../../ssh/quote.js';
import type { Change } from '../../engine/contract.js';
import type { ClusterTask } from '../../cluster/run.js';
import type { PodRoute } from './network.js';

/** rtnetlink protocol number marking kprov's pod routes (unassigned in iproute2's rt_protos). */
export const ROUTE_PROTO = 147;

export interface RouteEntry {
  dst: string;
  via?: string;
  proto?: string;
  family: 4 | 6;
  /** The line as `ip -o route` printed it, for messages. */
  line: string;
}

const ROUTE_TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'throw', 'unreachable', 'prohibit', 'blackhole', 'nat', 'anycast']);

/** `10.233.65.0/24 via 10.0.0.12 dev eth0 proto 147` → its destination, gateway and protocol. */
export function parseRoutes(output: string): RouteEntry[] {
  const out: RouteEntry[] = [];
  let family: 4 | 6 = 4;
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '--- inet6') {
      family = 6;
      continue;
    }
    if (line === '' || line.startsWith('---')) continue;
    const words = line.split(/\s+/);
    if (ROUTE_TYPES.has(words[0]!)) words.shift();
    const first = words[0]!;
    if (first === 'default') continue;
    const dst = first.includes('/') ? first : `${first}/${family === 4 ? 32 : 128}`;
    const after = (key: string) => {
      const i = words.indexOf(key);
      return i >= 0 ? words[i + 1] : undefined;
    };
    const via = after('via');
    const proto = after('proto');
    out.push({ dst, family, line, ...(via !== undefined ? { via } : {}), ...(proto !== undefined ? { proto } : {}) });
  }
  return out;
}

export interface RouteChange extends Change {
  kind: 'custom';
  action: 'replace' | 'delete';
  dst: string;
  via?: string;
  family: 4 | 6;
}

/** What to change so that the routes in `current` that concern us match `wanted`. */
export function routeChanges(current: readonly RouteEntry[], wanted: readonly PodRoute[]): RouteChange[] {
  const ours = String(ROUTE_PROTO);
  const changes: RouteChange[] = [];
  for (const w of wanted) {
    const have = current.find((r) => r.dst === w.dst && r.family === w.family);
    if (have && have.via === w.via && have.proto === ours) continue;
    changes.push({
      kind: 'custom',
      action: 'replace',
      dst: w.dst,
      via: w.via,
      family: w.family,
      summary: `route ${w.dst} via ${w.via} (${w.node}'s pods)${have ? `, replacing "${have.line}"` : ''}`,
    });
  }
  for (const r of current) {
    if (r.proto !== ours || wanted.some((w) => w.dst === r.dst && w.family === r.family)) continue;
    changes.push({ kind: 'custom', action: 'delete', dst: r.dst, family: r.family, summary: `delete stale pod route "${r.line}"` });
  }
  return changes;
}

const SHOW_ROUTES = 'ip -o -4 route show table main && echo "--- inet6" && ip -o -6 route show table main';
const showRoutes = { argv: shScript(SHOW_ROUTES, [], 'kprov-routes') };

export function podRoutes(wanted: readonly PodRoute[]): ClusterTask<RouteChange> {
  return {
    name: `routes to the other nodes' pod networks (${wanted.length})`,
    reads: () => ({ commands: [showRoutes] }),
    async check(host, ctx) {
      return routeChanges(parseRoutes((await probeRun(host, showRoutes, ctx)).stdout), wanted);
    },
    async apply(host, changes) {
      for (const c of changes) {
        const fam = c.family === 6 ? '-6' : '-4';
        if (c.action === 'replace') await host.run(['ip', fam, 'route', 'replace', c.dst, 'via', c.via!, 'proto', String(ROUTE_PROTO)]);
        else await host.run(['ip', fam, 'route', 'del', c.dst, 'proto', String(ROUTE_PROTO)]);
      }
    },
  };
}
