/**
 * What preflight needs to know about a host beyond its facts, read in one round trip: the TCP
 * listeners with the systemd unit of each listening process, whether net.ipv4.ip_forward is on or
 * can be switched on, whether bridge netfilter is there or loadable, which HTTP client the health
 * probes can use, and the active swap areas. The script only reads.
 */
import { z } from 'zod';
import { KprovError } from '../../errors.js';
import { HostCommandError } from '../../ssh/errors.js';
import { commandLine, shScript } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';

/**
 * `ss -ltnp` without -H (iproute2 before 4.14 lacks it); the cgroup of every listening PID, from
 * which the unit is read (a service's processes live in `…/system.slice/<unit>.service`).
 * `[ -w ]` is access(2), so a read-only /proc/sys (containers) reads as not writable.
 */
export const PROBE_SCRIPT = `LC_ALL=C; export LC_ALL
if command -v ss >/dev/null 2>&1; then
  if out=$(ss -ltnp 2>&1); then
    printf '%s\\n' "$out" | sed 's/^/listen /'
    for pid in $(printf '%s\\n' "$out" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un); do
      printf 'cgroup %s %s\\n' "$pid" "$(tr '\\n' ' ' < "/proc/$pid/cgroup" 2>/dev/null)"
    done
  else
    printf 'ss_error %s\\n' "$(printf '%s' "$out" | head -n 1)"
  fi
else
  echo ss_missing
fi
printf 'ip_forward %s\\n' "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo missing)"
if [ -w /proc/sys/net/ipv4/ip_forward ]; then echo 'ip_forward_writable yes'; else echo 'ip_forward_writable no'; fi
if [ -d /proc/sys/net/bridge ] || [ -d /sys/module/br_netfilter ]; then echo 'br_netfilter loaded'
elif command -v modprobe >/dev/null 2>&1 && modprobe -n -q br_netfilter 2>/dev/null; then echo 'br_netfilter loadable'
else echo 'br_netfilter missing'; fi
if command -v curl >/dev/null 2>&1; then echo 'http_client curl'
elif command -v wget >/dev/null 2>&1; then echo 'http_client wget'
else echo 'http_client none'; fi
if [ -r /proc/swaps ]; then sed '1d; s/^/swap /' /proc/swaps; fi`;

export interface Listener {
  port: number;
  /** The local address as ss prints it, e.g. `0.0.0.0:10250` or `[::]:6443`. */
  local: string;
  processes: { name: string; pid: number; unit: string | undefined }[];
}

export interface HostProbe {
  /** undefined when `ss` could not be run (its reason in `listenersError`). */
  listeners: Listener[] | undefined;
  listenersError?: string;
  ipForward: { value: string; writable: boolean };
  brNetfilter: 'loaded' | 'loadable' | 'missing';
  httpClient: 'curl' | 'wget' | 'none';
  swaps: { device: string; sizeMb: number }[];
}

const probeSchema = z.object({
  listeners: z
    .array(
      z.object({
        port: z.number().int().min(0).max(65535),
        local: z.string(),
        processes: z.array(z.object({ name: z.string(), pid: z.number().int().positive(), unit: z.string().optional() })),
      }),
    )
    .optional(),
  listenersError: z.string().optional(),
  ipForward: z.object({ value: z.string(), writable: z.boolean() }),
  brNetfilter: z.enum(['loaded', 'loadable', 'missing']),
  httpClient: z.enum(['curl', 'wget', 'none']),
  swaps: z.array(z.object({ device: z.string(), sizeMb: z.number().int().nonnegative() })),
});

/** `users:(("kubelet",pid=812,fd=9),("kubelet",pid=813,fd=9))` → names and PIDs. */
function processesOf(field: string): { name: string; pid: number }[] {
  return [...field.matchAll(/\("((?:[^"\\]|\\.)*)",pid=(\d+)/g)].map((m) => ({ name: m[1]!, pid: Number(m[2]) }));
}

/** The systemd service a process belongs to, from its /proc/PID/cgroup lines (v1, v2 or hybrid). */
export function unitFromCgroup(text: string): string | undefined {
  for (const entry of text.trim().split(/\s+/)) {
    // hierarchy-ID:controllers:path — the path may itself contain ':' in theory, so split twice.
    const first = entry.indexOf(':');
    const second = entry.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const segments = entry.slice(second + 1).split('/');
    const unit = segments.reverse().find((s) => /\.service$/.test(s));
    if (unit) return unit;
    // A container of a pod the kubelet runs (a static pod, say): kubepods.slice/…, no service.
    if (segments.some((s) => /^kubepods[.-]/.test(s))) return POD_CGROUP;
  }
  return undefined;
}

/** What unitFromCgroup says for a process in a pod's container. */
export const POD_CGROUP = 'a pod of the kubelet';

/** Parses the probe script's output; throws (with the offending line) when it is not what the script prints. */
export function parseProbe(output: string): HostProbe {
  const listens: { local: string; users: string }[] = [];
  const units = new Map<number, string | undefined>();
  const raw: Record<string, unknown> = { swaps: [] as { device: string; sizeMb: number }[] };
  let ssSeen = false;
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    const sp = line.indexOf(' ');
    const key = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? '' : line.slice(sp + 1).trim();
    switch (key) {
      case 'listen': {
        ssSeen = true;
        const cols = rest.split(/\s+/);
        // The header line (State Recv-Q …) and anything not LISTEN are skipped.
        if (cols[0] !== 'LISTEN' || cols.length < 5) break;
        listens.push({ local: cols[3]!, users: cols.slice(5).join(' ') });
        break;
      }
      case 'cgroup': {
        const [pid = '', ...lines] = rest.split(' ');
        units.set(Number(pid), unitFromCgroup(lines.join(' ')));
        break;
      }
      case 'ss_missing':
        raw['listenersError'] = 'ss (iproute2) is not installed';
        break;
      case 'ss_error':
        raw['listenersError'] = `ss -ltnp failed: ${rest}`;
        break;
      case 'ip_forward':
        raw['ipForward'] = { ...(raw['ipForward'] as object | undefined), value: rest };
        break;
      case 'ip_forward_writable':
        raw['ipForward'] = { ...(raw['ipForward'] as object | undefined), writable: rest === 'yes' };
        break;
      case 'br_netfilter':
        raw['brNetfilter'] = rest;
        break;
      case 'http_client':
        raw['httpClient'] = rest;
        break;
      case 'swap': {
        // Filename Type Size(KiB) Used Priority
        const [device = '', , size = '0'] = rest.split(/\s+/);
        (raw['swaps'] as { device: string; sizeMb: number }[]).push({ device, sizeMb: Math.floor(Number(size) / 1024) });
        break;
      }
      default:
        throw new Error(`unexpected line from the preflight probe: ${JSON.stringify(line)}`);
    }
  }
  if (ssSeen || raw['listenersError'] === undefined) {
    raw['listeners'] = listens.map((l) => ({
      port: Number(/:(\d+)$/.exec(l.local)?.[1] ?? -1),
      local: l.local,
      processes: processesOf(l.users).map((p) => {
        const unit = units.get(p.pid);
        return { ...p, ...(unit !== undefined ? { unit } : {}) };
      }),
    }));
  }
  const parsed = probeSchema.parse(raw);
  return {
    listeners: parsed.listeners?.map((l) => ({ ...l, processes: l.processes.map((p) => ({ name: p.name, pid: p.pid, unit: p.unit })) })),
    ...(parsed.listenersError !== undefined ? { listenersError: parsed.listenersError } : {}),
    ipForward: parsed.ipForward,
    brNetfilter: parsed.brNetfilter,
    httpClient: parsed.httpClient,
    swaps: parsed.swaps,
  };
}

export function probeCommand(): string[] {
  return shScript(PROBE_SCRIPT, [], 'kprov-preflight');
}

/** Runs the probe on a host (read-only, one command). */
export async function probeHost(host: RemoteHost): Promise<HostProbe> {
  const argv = probeCommand();
  const result = await host.exec(argv, { timeoutMs: 30_000 });
  if (result.code !== 0) throw new HostCommandError({ host: host.name, command: commandLine(argv), ...result });
  try {
    return parseProbe(result.stdout);
  } catch (err) {
    const detail = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message;
    throw new KprovError('host', `cannot read the preflight probe's answer: ${detail}`, { host: host.name });
  }
}
