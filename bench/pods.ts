/**
 * Pods on a 5-host lab cluster (node1–3 control plane + etcd, all five in kube_node, the lab
 * layout): a fresh `kprov apply cluster` (CoreDNS included), a no-op re-apply, `kprov apply check`
 * N times (pods, a Service, the cluster DNS), the application journey (Deployment of 2, NodePort,
 * curl on every node, DNS from every node) from the first command to the last answer, and
 * containerd's memory per host without pods and with one pod per host (containerd plus its shims,
 * PSS from /proc/<pid>/smaps_rollup, read inside each host). Needs root; tears its lab down.
 *
 *   npm run build && node dist/bench/pods.js [--check-runs 3]
 */
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RELEASE_DIR, startClusterLab, type ClusterLab } from '../dev/cluster-lab.js';
import { kprovBin } from '../dev/lab-hosts.js';
import { APP, createApp, curlNodePorts, nodePortOf, resolveFromEveryNode, waitForEndpoints, type Run } from '../dev/app-journey.js';

const NAME = 'bench-pods';
const HOSTS = ['node1', 'node2', 'node3', 'node4', 'node5'];
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// containerd and every shim it started: PSS in KiB, summed.
const MEMORY_SCRIPT = `t=0; for p in $(pgrep -f '(^|/)containerd( |$)|containerd-shim'); do k=$(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null); t=$((t + \${k:-0})); done; echo $t`;

async function timed(lab: ClusterLab, args: string[]): Promise<number> {
  const started = Date.now();
  const r = await lab.inLab([process.execPath, kprovBin, ...args, '-i', lab.inventoryDir], { timeoutMs: 900_000 });
  if (r.code !== 0) throw new Error(`kprov ${args.join(' ')} exited ${r.code}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  return Date.now() - started;
}

async function memoryMiB(lab: ClusterLab): Promise<number[]> {
  return Promise.all(HOSTS.map(async (h) => Number((await lab.exec(h, ['sh', '-c', MEMORY_SCRIPT])).stdout.trim()) / 1024));
}

async function kubectl(lab: ClusterLab, args: string[]): Promise<void> {
  const bin = lab.release.artifacts.find((a) => a.name === 'kubectl')!;
  const r = await lab.inLab([path.join(RELEASE_DIR, bin.urlPath), '--kubeconfig', path.join(lab.inventoryDir, 'artifacts', 'admin.conf'), ...args], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
}

async function applicationJourney(lab: ClusterLab): Promise<void> {
  const bin = lab.release.artifacts.find((a) => a.name === 'kubectl')!;
  const conf = path.join(lab.inventoryDir, 'artifacts', 'admin.conf');
  const inLab: Run = (argv, options) => lab.inLab([...argv], { timeoutMs: options?.timeoutMs ?? 60_000, ...(options?.input !== undefined ? { input: options.input } : {}) });
  const run: Run = (args, options) => inLab([path.join(RELEASE_DIR, bin.urlPath), '--kubeconfig', conf, ...args], options);
  await createApp(run);
  const endpoints = await waitForEndpoints(run, 2, 180_000);
  const answers = await curlNodePorts(inLab, HOSTS.map((name, i) => ({ name, ip: `10.213.0.${11 + i}` })), await nodePortOf(run));
  if (answers.some((a) => !endpoints.some((e) => e.pod === a.answer))) throw new Error(`a node port did not answer: ${JSON.stringify(answers)}`);
  const resolved = await resolveFromEveryNode(run, HOSTS, 'cluster.local', 180_000);
  if (resolved.some((r) => !r.ok)) throw new Error(`DNS failed: ${JSON.stringify(resolved)}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'check-runs': { type: 'string', default: '3' } } });
  const checkRuns = Number(values['check-runs']);
  const lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
  try {
    console.log(`load before: ${load()}`);
    const fresh = await timed(lab, ['apply', 'cluster']);
    console.log(`fresh apply: ${seconds(fresh)} (load ${load()})`);
    const noop = await timed(lab, ['apply', 'cluster']);
    console.log(`no-op re-apply: ${seconds(noop)} (load ${load()})`);
    const checks: number[] = [];
    for (let i = 0; i < checkRuns; i++) checks.push(await timed(lab, ['apply', 'check']));
    console.log(`kprov apply check, ${checkRuns} runs: median ${seconds(median(checks))} (${checks.map(seconds).join(', ')}) (load ${load()})`);
    const appStarted = Date.now();
    await applicationJourney(lab);
    console.log(`application journey (create, scale to 2, expose, 2 endpoints, curl on 5 nodes, DNS from 5 nodes): ${seconds(Date.now() - appStarted)} (load ${load()})`);
    await kubectl(lab, ['delete', 'deployment,service', APP, '--wait=true']);
    await new Promise((r) => setTimeout(r, 5000));
    const idle = await memoryMiB(lab);
    for (const h of HOSTS) {
      await kubectl(lab, ['run', `mem-${h}`, '--image=docker.io/kprov/workload:1', '--restart=Never', `--overrides={"apiVersion":"v1","spec":{"nodeName":"${h}"}}`, '--command', '--', 'sleep', '3600']);
    }
    await kubectl(lab, ['wait', '--for=condition=Ready', 'pod', '--all', '--timeout=120s']);
    await new Promise((r) => setTimeout(r, 5000));
    const busy = await memoryMiB(lab);
    console.log('containerd + shims PSS per host (MiB), without pods → with one pod:');
    for (const [i, h] of HOSTS.entries()) console.log(`  ${h}: ${idle[i]!.toFixed(1)} → ${busy[i]!.toFixed(1)}`);
    console.log(`load after: ${load()}`);
  } finally {
    await lab.stop();
  }
}

await main();
