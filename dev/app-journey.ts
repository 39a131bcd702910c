/**
 * The application journey every Kubernetes course ends with, on a lab cluster through the real
 * kubectl: a Deployment of the lab's workload image, scaled to 2, exposed as a NodePort Service;
 * its endpoints; the node port answered on every node; names resolved through the cluster DNS
 * from a pod on every node. Shared by `npm run demo` (which prints it) and the e2e test (which
 * asserts each step). Every wait is bounded.
 */
import { WORKLOAD_IMAGE, WORKLOAD_PORT } from './release/images.js';
import type { CommandResult } from './run-command.js';

export const APP = 'nginx-app';
export type Run = (argv: readonly string[], options?: { timeoutMs?: number; input?: string }) => Promise<CommandResult>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function must(r: CommandResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

/** The kubectl lines a user types, in order (shown by the demo). */
export const APP_COMMANDS: readonly (readonly string[])[] = [
  ['create', 'deployment', APP, `--image=${WORKLOAD_IMAGE}`],
  ['scale', 'deploy', APP, '--replicas=2'],
  ['expose', 'deployment', APP, '--type=NodePort', '--port=80', `--target-port=${WORKLOAD_PORT}`],
];

/** Removes what an earlier journey left (a re-run of the demo), then runs the commands; bounded. */
export async function createApp(kubectl: Run): Promise<void> {
  must(await kubectl(['delete', 'deployment,service', APP, '--ignore-not-found', '--wait=true', '--timeout=60s'], { timeoutMs: 90_000 }), `kubectl delete ${APP}`);
  for (const args of APP_COMMANDS) must(await kubectl(args), `kubectl ${args.join(' ')}`);
}

export interface Endpoint {
  ip: string;
  pod: string;
  node: string;
}

/** The Service's ready endpoints once there are `count` of them (pods matched by the selector and Ready). */
export async function waitForEndpoints(kubectl: Run, count: number, timeoutMs: number, not: readonly string[] = []): Promise<Endpoint[]> {
  const deadline = Date.now() + timeoutMs;
  let last: Endpoint[] = [];
  while (Date.now() < deadline) {
    const r = await kubectl(['get', 'endpoints', APP, '-o', 'json']);
    if (r.code === 0) {
      const ep = JSON.parse(r.stdout) as { subsets?: Array<{ addresses?: Array<{ ip: string; nodeName?: string; targetRef?: { name?: string } }> }> };
      last = (ep.subsets ?? []).flatMap((s) => s.addresses ?? []).map((a) => ({ ip: a.ip, pod: a.targetRef?.name ?? '', node: a.nodeName ?? '' }));
      if (last.length === count && !last.some((e) => not.includes(e.pod))) return last;
    }
    await sleep(1_000);
  }
  throw new Error(`${APP} has ${last.length} ready endpoint(s) after ${timeoutMs / 1000} s, not ${count}: ${JSON.stringify(last)}`);
}

export async function nodePortOf(kubectl: Run): Promise<number> {
  const svc = JSON.parse(must(await kubectl(['get', 'service', APP, '-o', 'json']), 'kubectl get service')) as { spec: { ports: Array<{ nodePort?: number }> } };
  const port = svc.spec.ports[0]?.nodePort;
  if (typeof port !== 'number') throw new Error(`service ${APP} has no node port`);
  return port;
}

/** `curl http://NODE:PORT/` from the lab network: the answering pod's name, per node (retried briefly while kube-proxy syncs). */
export async function curlNodePorts(inLab: Run, nodes: ReadonlyArray<{ name: string; ip: string }>, port: number): Promise<Array<{ node: string; url: string; answer: string }>> {
  const out: Array<{ node: string; url: string; answer: string }> = [];
  for (const n of nodes) {
    const url = `http://${n.ip}:${port}/`;
    let answer = '';
    for (let i = 0; i < 15 && answer === ''; i++) {
      if (i > 0) await sleep(1_000);
      const r = await inLab(['curl', '-s', '-m', '5', url], { timeoutMs: 10_000 });
      answer = r.code === 0 ? r.stdout.trim() : '';
    }
    out.push({ node: n.name, url, answer });
  }
  return out;
}

/**
 * One pod per node (pinned by nodeName) that resolves the app's Service name through the cluster
 * DNS and fetches it by name; their logs, per node. The pods are removed afterwards.
 */
export async function resolveFromEveryNode(kubectl: Run, nodes: readonly string[], dnsDomain: string, timeoutMs: number): Promise<Array<{ node: string; ok: boolean; log: string }>> {
  const name = (node: string) => `dns-probe-${node.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`;
  // The full name with busybox's nslookup, then the short one as applications resolve it: glibc
  // (getent) through the pod's search path (default.svc.<domain>). busybox's static wget cannot
  // resolve, so the fetch goes to the address getent found.
  const script = [
    `nslookup ${APP}.default.svc.${dnsDomain} || exit 1`,
    `addr=$(getent hosts ${APP}.default | cut -d' ' -f1)`,
    `[ -n "$addr" ] || { echo "getent hosts ${APP}.default: no answer"; exit 2; }`,
    `echo "${APP}.default is $addr"`,
    // Bounded by timeout(1): Debian's static busybox 1.35 wget crashes with -T.
    'timeout 5 wget -q -O - "http://$addr/" || exit 3',
  ].join('\n');
  const pods = nodes.map((node) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: name(node), labels: { app: 'dns-probe' } },
    spec: { nodeName: node, restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [{ name: 'probe', image: WORKLOAD_IMAGE, command: ['sh', '-c', script] }] },
  }));
  const clean = () => kubectl(['delete', 'pods', '-l', 'app=dns-probe', '--ignore-not-found', '--wait=true', '--grace-period=1', '--timeout=60s'], { timeoutMs: 90_000 });
  await clean();
  try {
    must(await kubectl(['create', '--validate=false', '-f', '-'], { input: pods.map((p) => JSON.stringify(p)).join('\n') }), 'kubectl create the DNS probe pods');
    const deadline = Date.now() + timeoutMs;
    let phases = new Map<string, string>();
    while (Date.now() < deadline) {
      const r = await kubectl(['get', 'pods', '-l', 'app=dns-probe', '-o', 'json']);
      if (r.code === 0) {
        const list = JSON.parse(r.stdout) as { items: Array<{ metadata: { name: string }; status?: { phase?: string } }> };
        phases = new Map(list.items.map((p) => [p.metadata.name, p.status?.phase ?? 'Pending']));
        if (nodes.every((n) => ['Succeeded', 'Failed'].includes(phases.get(name(n)) ?? ''))) break;
      }
      await sleep(1_000);
    }
    const out: Array<{ node: string; ok: boolean; log: string }> = [];
    for (const node of nodes) {
      const log = await kubectl(['logs', name(node)]);
      out.push({ node, ok: phases.get(name(node)) === 'Succeeded', log: `${log.stdout}${log.stderr}`.trim() || `(phase ${phases.get(name(node)) ?? 'unknown'})` });
    }
    return out;
  } finally {
    await clean();
  }
}
