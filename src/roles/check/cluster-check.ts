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
import { waitUntil, WaitTimeoutError } from '../../engine/wait.js';
import type { TemplateRenderer } from '../../engine/contract.js';
import { shellQuote } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';
import { execKubectl, outcome, type VerifyPaths } from '../verify/tools.js';
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
  /** The node's address, where its node ports listen. */
  ip: string;
}

/** What the check asks of Services and the cluster DNS. */
export interface ServiceCheck {
  /** A name every pod must resolve (kubernetes.default.svc.<dns_domain>), and the address it must get; undefined with dns_mode: none. */
  dns?: { name: string; address: string };
}

/** Prober targets that are not a node's pod (node names cannot start with @). */
const SERVICE_TARGET = '@service';
const NODEPORT_TARGET = '@nodeport';
const DNS_TARGET = '@dns';
// kube-proxy and the DNS add-on follow the API: a new Service may take a few seconds to answer.
const SERVICE_TRIES = 20;

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

export interface ProberServices {
  /** The check Service's cluster IP:port and this node's address:nodePort. */
  clusterIp: string;
  nodePort: string;
  dns?: { name: string; address: string };
}

/**
 * `ok NODE IP` or `fail NODE IP` per target pod; then, with `services`, `ok|fail @service IP:PORT`,
 * `ok|fail @nodeport IP:PORT` (answered by any check server) and `ok|fail @dns NAME` (resolved to
 * its address), each retried for a while first; exit 1 when any failed.
 */
export function proberScript(targets: ReadonlyArray<{ node: string; ip: string }>, services?: ProberServices): string {
  const list = targets.map((t) => `${t.node}=${t.ip}`).join(' ');
  const lines = [
    'rc=0',
    `for t in ${list}; do`,
    '  n=${t%%=*}; ip=${t#*=}',
    `  if timeout ${PROBE_TIMEOUT_S} wget -q -O - "http://$ip:${CHECK_PORT}/" 2>/dev/null | grep -qx "$n"; then echo "ok $n $ip"; else echo "fail $n $ip"; rc=1; fi`,
    'done',
  ];
  if (services) {
    // Any server's answer is a node name; the retries cover kube-proxy's and the DNS add-on's first sync.
    lines.push(
      'retry() { i=0; while [ $i -lt ' + SERVICE_TRIES + ' ]; do if "$@"; then return 0; fi; i=$((i+1)); sleep 1; done; return 1; }',
      `fetch() { timeout ${PROBE_TIMEOUT_S} wget -q -O - "http://$1/" 2>/dev/null | grep -q .; }`,
      `if retry fetch ${services.clusterIp}; then echo "ok ${SERVICE_TARGET} ${services.clusterIp}"; else echo "fail ${SERVICE_TARGET} ${services.clusterIp}"; rc=1; fi`,
      `if retry fetch ${services.nodePort}; then echo "ok ${NODEPORT_TARGET} ${services.nodePort}"; else echo "fail ${NODEPORT_TARGET} ${services.nodePort}"; rc=1; fi`,
    );
    if (services.dns) {
      const { name, address } = services.dns;
      lines.push(
        `resolve() { timeout ${PROBE_TIMEOUT_S} nslookup ${name} 2>&1 | tail -n +3 | grep -q "${address.replace(/\./g, '\\.')}"; }`,
        `if retry resolve; then echo "ok ${DNS_TARGET} ${name}"; else echo "fail ${DNS_TARGET} ${name}"; timeout ${PROBE_TIMEOUT_S} nslookup ${name} 2>&1 | sed 's/^/  nslookup: /'; cat /etc/resolv.conf | sed 's/^/  resolv.conf: /'; rc=1; fi`,
      );
    }
  }
  lines.push('exit $rc');
  return lines.join('\n');
}

/** Parses a prober's log into reached and unreached targets. */
export function parseProbeLog(log: string): { ok: string[]; failed: Array<{ node: string; ip: string }>; detail: string[] } {
  const ok: string[] = [];
  const failed: Array<{ node: string; ip: string }> = [];
  const detail: string[] = [];
  for (const line of log.split('\n')) {
    if (line.startsWith('  ')) detail.push(line.trim());
    const m = /^(ok|fail) (\S+) (\S+)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'ok') ok.push(m[2]!);
    else failed.push({ node: m[2]!, ip: m[3]! });
  }
  return { ok, failed, detail };
}

/** What a failed service target means, for the node whose prober saw it. */
function serviceProblem(target: string, detail: string, node: string, seen: readonly string[]): string | undefined {
  const within = `within ${SERVICE_TRIES} s`;
  if (target === SERVICE_TARGET) return `a pod on ${node} got no answer from the check Service's cluster IP ${detail} ${within} (kube-proxy's rules on ${node})`;
  if (target === NODEPORT_TARGET) return `a pod on ${node} got no answer from ${node}'s node port ${detail} ${within} (kube-proxy's rules on ${node})`;
  if (target === DNS_TARGET) return [`a pod on ${node} could not resolve ${detail} through the cluster DNS ${within}`, ...seen].join('; ');
  return undefined;
}

interface CheckInput {
  host: RemoteHost;
  paths: VerifyPaths;
  nodes: readonly CheckedNode[];
  services: ServiceCheck;
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
    execKubectl(input.host, input.paths, args, { timeoutMs: Math.max(5_000, Math.min(60_000, deadline - Date.now() + 5_000)), ...(stdin !== undefined ? { stdin } : {}) });
  const podYaml = (name: string, node: string, role: string, script: string, restartPolicy: string, port?: number) =>
    input.render('check/pod.yaml.j2', { name, namespace: CHECK_NAMESPACE, node, role, image: input.image, script: `NODE=${shellQuote(node)}\n${script}`, restart_policy: restartPolicy, port: port ?? 0 });
  const removeAll = async (): Promise<string | undefined> => {
    const r = await kubectl(['delete', 'pods,services', '-n', CHECK_NAMESPACE, '-l', MANAGED, '--ignore-not-found', '--wait=true', `--timeout=${Math.max(10, Math.round((deadline - Date.now()) / 1000))}s`]);
    return r.code === 0 ? undefined : `removing the check pods: kubectl delete ${outcome(r)}`;
  };

  try {
    const leftover = await removeAll();
    if (leftover) {
      problems.push(leftover);
      return { byNode, problems, elapsedMs: Date.now() - started };
    }
    // Pods are admitted once the namespace's default service account has its token (a cluster
    // that was just built may not have it yet: the controller-manager makes both).
    const account = await waitForServiceAccount(kubectl, deadline);
    if (account) {
      problems.push(account);
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

    // The Service in front of the servers: its cluster IP and node port, as the API allocated them.
    const service = await kubectl(['create', '--validate=false', '-o', 'json', '-f', '-'], input.render('check/service.yaml.j2', { name: SERVICE_NAME, namespace: CHECK_NAMESPACE, port: CHECK_PORT }));
    const allocated = service.code === 0 ? parseServicePorts(service.stdout) : undefined;
    if (!allocated) {
      problems.push(`creating the check Service: kubectl create ${service.code === 0 ? 'printed no cluster IP and node port' : outcome(service)}`);
      return { byNode, problems, elapsedMs: Date.now() - started };
    }

    // 4: probers, each fetching every other node's server pod, then the Service and the DNS.
    const probers = input.nodes
      .filter((n) => byNode.get(n.name)?.podIp)
      .map((n) => ({ node: n, pod: podNameFor('kprov-probe', n.name), targets: targets.filter((t) => t.node !== n.name) }));
    const servicesFor = (n: CheckedNode): ProberServices => ({
      clusterIp: `${hostPort(allocated.clusterIp, CHECK_PORT)}`,
      nodePort: hostPort(n.ip, allocated.nodePort),
      ...(input.services.dns ? { dns: input.services.dns } : {}),
    });
    const probeCreated = await kubectl(['create', '--validate=false', '-f', '-'], probers.map((p) => podYaml(p.pod, p.node.name, 'prober', proberScript(p.targets, servicesFor(p.node)), 'Never')).join('---\n'));
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
      own.reached = seen.ok.filter((t) => !t.startsWith('@')).length;
      for (const f of seen.failed.filter((t) => t.node.startsWith('@'))) {
        own.problems.push(serviceProblem(f.node, f.ip, p.node.name, seen.detail) ?? `prober ${p.pod} failed ${f.node} ${f.ip}`);
      }
      for (const f of seen.failed.filter((t) => !t.node.startsWith('@'))) {
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

const SERVICE_NAME = 'kprov-check';

const hostPort = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** The cluster IP and node port of the Service kubectl just created (-o json). */
export function parseServicePorts(json: string): { clusterIp: string; nodePort: number } | undefined {
  try {
    const svc = JSON.parse(json) as { spec?: { clusterIP?: unknown; ports?: Array<{ nodePort?: unknown }> } };
    const clusterIp = svc.spec?.clusterIP;
    const nodePort = svc.spec?.ports?.[0]?.nodePort;
    return typeof clusterIp === 'string' && clusterIp !== '' && clusterIp !== 'None' && typeof nodePort === 'number' ? { clusterIp, nodePort } : undefined;
  } catch {
    return undefined;
  }
}

/** undefined once the check namespace's default service account has a token secret; else why not, at the deadline. */
async function waitForServiceAccount(kubectl: Kubectl, deadline: number): Promise<string | undefined> {
  let last = '';
  const ready = async (): Promise<true | undefined> => {
    const r = await kubectl(['get', 'serviceaccount', 'default', '-n', CHECK_NAMESPACE, '-o', 'jsonpath={.secrets[*].name}', '--ignore-not-found']);
    if (r.code === 0 && r.stdout.trim() !== '') return true;
    last = r.code === 0 ? 'it has no token secret yet' : `kubectl get ${outcome(r)}`;
    return undefined;
  };
  try {
    await waitUntil(ready, { what: 'the default service account', timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: CHECK_POLL.intervalMs });
    return undefined;
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    return `the ${CHECK_NAMESPACE} namespace's default service account is not ready (${last}): pods cannot be admitted; is kube-controller-manager running?`;
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
