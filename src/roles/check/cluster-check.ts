/**
 * The check itself, run once per run through the first control-plane host's kubectl (Kubespray's
 * testcases 020 and 030 as one step):
 *   1. remove what an interrupted check left (pods labelled app.kubernetes.io/managed-by=kprov-check);
 *   2. one server pod per node (HTTP on 8080, answering its node's name), pinned by hostname;
 *   3. wait until each is Running with an IP inside its node's pod CIDR;
 *   4. one prober pod per node that fetches every other node's server pod by pod IP and prints
 *      `ok|fail NODE IP` per target; read their logs through the API;
 *   5. delete every check pod and wait until they are gone.
 * The result is per node, so each node's task can fail on its own host with its own routes, CNI
 * config and containerd journal. Every wait is bounded by check_timeout.
 */
import ipaddr from 'ipaddr.js';
import type { TemplateRenderer } from '../../engine/contract.js';
import { shellQuote } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';
import { kubectlArgv, outcome, type VerifyPaths } from '../verify/tools.js';
import { parsePods, type PodState } from './pod-state.js';

export const CHECK_NAMESPACE = 'default';
export const CHECK_PORT = 8080;
const MANAGED = 'app.kubernetes.io/managed-by=kprov-check';
const PROBE_TIMEOUT_S = 5;
/** How often pods are looked at, and how many looks a pod may stay stuck on its image. */
export const CHECK_POLL = { intervalMs: 1_000, stuckLooks: 15 };
// Waiting reasons that waiting does not fix (the kubelet keeps retrying, the check need not).
const STUCK_REASONS = /^(ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull|CreateContainerConfigError)\b/;

export interface CheckedNode {
  name: string;
  podCidr: string;
}

export interface NodeOutcome {
  /** The server pod's IP once it ran. */
  podIp?: string;
  problems: string[];
  /** Pairs this node is part of that could not talk, as `from → to (ip)`. */
  unreachable: string[];
  /** Other nodes' pods this node's prober reached. */
  reached: number;
}

export interface CheckReport {
  byNode: Map<string, NodeOutcome>;
  /** Problems of the check as a whole (the API, clean-up), reported on the driving host. */
  problems: string[];
  elapsedMs: number;
}

/** A pod name from a node name: DNS-1123, lower case. */
export function podNameFor(prefix: string, node: string): string {
  const safe = node.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `${prefix}-${safe}`.slice(0, 253);
}

const serverScript = `mkdir -p /tmp/www && printf '%s\\n' "$NODE" > /tmp/www/index.html && exec httpd -f -p ${CHECK_PORT} -h /tmp/www`;

/** `ok NODE IP` or `fail NODE IP` per target; exit 1 when any failed. */
export function proberScript(targets: ReadonlyArray<{ node: string; ip: string }>): string {
  const list = targets.map((t) => `${t.node}=${t.ip}`).join(' ');
  return [
    'rc=0',
    `for t in ${list}; do`,
    '  n=${t%%=*}; ip=${t#*=}',
    `  if timeout ${PROBE_TIMEOUT_S} wget -q -O - "http://$ip:${CHECK_PORT}/" 2>/dev/null | grep -qx "$n"; then echo "ok $n $ip"; else echo "fail $n $ip"; rc=1; fi`,
    'done',
    'exit $rc',
  ].join('\n');
}

/** Parses a prober's log into reached and unreached targets. */
export function parseProbeLog(log: string): { ok: string[]; failed: Array<{ node: string; ip: string }> } {
  const ok: string[] = [];
  const failed: Array<{ node: string; ip: string }> = [];
  for (const line of log.split('\n')) {
    const m = /^(ok|fail) (\S+) (\S+)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'ok') ok.push(m[2]!);
    else failed.push({ node: m[2]!, ip: m[3]! });
  }
  return { ok, failed };
}

interface CheckInput {
  host: RemoteHost;
  paths: VerifyPaths;
  nodes: readonly CheckedNode[];
  image: string;
  timeoutMs: number;
  render: TemplateRenderer;
}

export async function runClusterCheck(input: CheckInput): Promise<CheckReport> {
  const started = Date.now();
  const deadline = started + input.timeoutMs;
  const byNode = new Map<string, NodeOutcome>(input.nodes.map((n) => [n.name, { problems: [], unreachable: [], reached: 0 }]));
  const problems: string[] = [];
  const kubectl = async (args: readonly string[], stdin?: string) =>
    input.host.exec(kubectlArgv(input.paths, args), { timeoutMs: Math.max(5_000, Math.min(60_000, deadline - Date.now() + 5_000)), ...(stdin !== undefined ? { stdin } : {}) });
  const podYaml = (name: string, node: string, role: string, script: string, restartPolicy: string, port?: number) =>
    input.render('check/pod.yaml.j2', { name, namespace: CHECK_NAMESPACE, node, role, image: input.image, script: `NODE=${shellQuote(node)}\n${script}`, restart_policy: restartPolicy, port: port ?? 0 });
  const removeAll = async (): Promise<string | undefined> => {
    const r = await kubectl(['delete', 'pods', '-n', CHECK_NAMESPACE, '-l', MANAGED, '--ignore-not-found', '--wait=true', `--timeout=${Math.max(10, Math.round((deadline - Date.now()) / 1000))}s`]);
    return r.code === 0 ? undefined : `removing the check pods: kubectl delete ${outcome(r)}`;
  };

  try {
    const leftover = await removeAll();
    if (leftover) {
      problems.push(leftover);
      return { byNode, problems, elapsedMs: Date.now() - started };
    }
    // 2-3: server pods, Running with an IP in their node's pod CIDR.
    const servers = input.nodes.map((n) => ({ node: n, pod: podNameFor('kprov-check', n.name) }));
    const created = await kubectl(['create', '--validate=false', '-f', '-'], servers.map((s) => podYaml(s.pod, s.node.name, 'server', serverScript, 'Always', CHECK_PORT)).join('---\n'));
    if (created.code !== 0) {
      problems.push(`creating the check pods: kubectl create ${outcome(created)}`);
      return { byNode, problems, elapsedMs: Date.now() - started };
    }
    const running = await waitForPods(kubectl, 'server', servers.length, deadline, (p) => p.phase === 'Running' && p.ip !== undefined);
    for (const s of servers) {
      const outcomeOf = byNode.get(s.node.name)!;
      const pod = running.pods.find((p) => p.name === s.pod);
      if (!pod || pod.phase !== 'Running' || !pod.ip) {
        outcomeOf.problems.push(`pod ${s.pod} is not running after ${Math.round((Date.now() - started) / 1000)} s: ${pod ? `${pod.phase}${pod.why ? ` (${pod.why})` : ''}` : 'not found'}`);
        continue;
      }
      if (pod.node !== s.node.name) outcomeOf.problems.push(`pod ${s.pod} runs on ${pod.node ?? 'no node'}, not on ${s.node.name}`);
      if (!inCidr(pod.ip, s.node.podCidr)) outcomeOf.problems.push(`pod ${s.pod} has IP ${pod.ip}, outside ${s.node.name}'s pod CIDR ${s.node.podCidr}`);
      outcomeOf.podIp = pod.ip;
    }
    const targets = servers.flatMap((s) => (byNode.get(s.node.name)?.podIp ? [{ node: s.node.name, ip: byNode.get(s.node.name)!.podIp! }] : []));
    if (targets.length < 2) return { byNode, problems, elapsedMs: Date.now() - started };

    // 4: probers, each fetching every other node's server pod.
    const probers = input.nodes
      .filter((n) => byNode.get(n.name)?.podIp)
      .map((n) => ({ node: n, pod: podNameFor('kprov-probe', n.name), targets: targets.filter((t) => t.node !== n.name) }));
    const probeCreated = await kubectl(['create', '--validate=false', '-f', '-'], probers.map((p) => podYaml(p.pod, p.node.name, 'prober', proberScript(p.targets), 'Never')).join('---\n'));
    if (probeCreated.code !== 0) {
      problems.push(`creating the prober pods: kubectl create ${outcome(probeCreated)}`);
      return { byNode, problems, elapsedMs: Date.now() - started };
    }
    const finished = await waitForPods(kubectl, 'prober', probers.length, deadline, (p) => p.phase === 'Succeeded' || p.phase === 'Failed');
    for (const p of probers) {
      const own = byNode.get(p.node.name)!;
      const pod = finished.pods.find((x) => x.name === p.pod);
      if (!pod || (pod.phase !== 'Succeeded' && pod.phase !== 'Failed')) {
        own.problems.push(`prober pod ${p.pod} did not finish: ${pod ? `${pod.phase}${pod.why ? ` (${pod.why})` : ''}` : 'not found'}`);
        continue;
      }
      const logs = await kubectl(['logs', '-n', CHECK_NAMESPACE, p.pod]);
      if (logs.code !== 0) {
        own.problems.push(`reading prober ${p.pod}'s log: kubectl logs ${outcome(logs)}`);
        continue;
      }
      const seen = parseProbeLog(logs.stdout);
      own.reached = seen.ok.length;
      for (const f of seen.failed) {
        const pair = `${p.node.name} → ${f.node} (${f.ip}:${CHECK_PORT}): no answer within ${PROBE_TIMEOUT_S} s`;
        own.unreachable.push(pair);
        byNode.get(f.node)?.unreachable.push(pair);
      }
      const missing = p.targets.filter((t) => !seen.ok.includes(t.node) && !seen.failed.some((f) => f.node === t.node));
      if (missing.length > 0) own.problems.push(`prober ${p.pod} reported nothing for ${missing.map((t) => t.node).join(', ')} (${pod.phase}${pod.why ? `: ${pod.why}` : ''})`);
    }
    return { byNode, problems, elapsedMs: Date.now() - started };
  } finally {
    // 5: always clean up, even after a failure; a later check removes what this one could not.
    const cleanup = await removeAll().catch((err: unknown) => `removing the check pods: ${err instanceof Error ? err.message : String(err)}`);
    if (cleanup) problems.push(cleanup);
  }
}

type Kubectl = (args: readonly string[], stdin?: string) => Promise<{ code: number; stdout: string; stderr: string }>;

/**
 * Polls the check pods of `role` until each is done or hopeless (Failed, or stuck on its image
 * for CHECK_POLL.stuckLooks looks), or the deadline: one bad image does not cost check_timeout.
 */
async function waitForPods(kubectl: Kubectl, role: string, count: number, deadline: number, done: (p: PodState) => boolean): Promise<{ pods: PodState[] }> {
  let pods: PodState[] = [];
  const stuck = new Map<string, number>();
  const maxLooks = Math.ceil(Math.max(0, deadline - Date.now()) / CHECK_POLL.intervalMs) + 1;
  for (let look = 0; look < maxLooks; look++) {
    const r = await kubectl(['get', 'pods', '-n', CHECK_NAMESPACE, '-l', `${MANAGED},kprov-check/role=${role}`, '-o', 'json']);
    if (r.code === 0) {
      pods = parsePods(r.stdout);
      for (const p of pods) {
        if (!done(p) && STUCK_REASONS.test(p.why)) stuck.set(p.name, (stuck.get(p.name) ?? 0) + 1);
        else stuck.delete(p.name);
      }
      const hopeless = (p: PodState) => p.phase === 'Failed' || (stuck.get(p.name) ?? 0) >= CHECK_POLL.stuckLooks;
      if (pods.length >= count && pods.every((p) => done(p) || hopeless(p))) break;
    }
    if (Date.now() + CHECK_POLL.intervalMs > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, CHECK_POLL.intervalMs));
  }
  return { pods };
}

function inCidr(ip: string, cidr: string): boolean {
  try {
    const addr = ipaddr.parse(ip);
    const range = ipaddr.parseCIDR(cidr);
    return addr.kind() === range[0].kind() && addr.match(range);
  } catch {
    return false;
  }
}
