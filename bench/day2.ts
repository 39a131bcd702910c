/**
 * Day-2 commands on a 5-host lab cluster (node1–3 control plane + etcd, node4–5 workers, the
 * stand-in release, `dns_mode: none`), each timed from spawn to exit as a fresh `kprov` process
 * in the lab namespace, with the machine's load average before and after:
 *   1. `kprov etcd backup -o FILE` (a snapshot from the first healthy member, copied here);
 *   2. `kprov etcd restore FILE --yes` (every member rebuilt from it, the API servers back);
 *   3. `kprov apply remove-node -e node=node5 --yes` (a worker: drain, reset, Node, routes);
 *   4. `kprov apply remove-node -e node=node3 --yes` (a live control-plane + etcd host: member
 *      removed, drained, the staying API servers and node4's proxy reconfigured, reset);
 *   5. `kprov apply reset --limit node4 --yes` (one host).
 * One lab, always taken down. Needs root.
 *
 *   npm run build && node dist/bench/day2.js [--name rpl-bench]
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pinVariables, startClusterLab, type ClusterLab } from '../dev/cluster-lab.js';
import type { RunEvent } from '../src/engine/events.js';
import { machineDescription } from './machine.js';

interface Timed {
  what: string;
  code: number;
  ms: number;
  changed: number;
  loadBefore: string;
  loadAfter: string;
  events: RunEvent[];
  stderr: string;
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function inventoryText(lab: ClusterLab, hosts: string[], controlPlane: string[]): string {
  const lines = lab.hosts.filter((h) => hosts.includes(h.name)).map((h) => `${h.name} ansible_host=${h.address} ip=${h.address} access_ip=${h.address}`);
  const workers = hosts.filter((h) => !controlPlane.includes(h));
  return `[all]\n${lines.join('\n')}\n\n[kube_control_plane]\n${controlPlane.join('\n')}\n\n[etcd]\n${controlPlane.join('\n')}\n\n[kube_node]\n${workers.join('\n')}\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`;
}

async function run(lab: ClusterLab, what: string, args: string[], json = true): Promise<Timed> {
  const loadBefore = load();
  const started = performance.now();
  const r = await lab.kprov([...args, '-i', lab.inventoryDir, ...(json ? ['--json'] : [])], { timeoutMs: 1_200_000 });
  const ms = performance.now() - started;
  const events = json ? r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as RunEvent) : [];
  const changed = events.flatMap((e) => (e.type === 'run:finish' ? e.recap.map((x) => x.changed) : [])).reduce((a, b) => a + b, 0);
  const t = { what, code: r.code, ms, changed, loadBefore, loadAfter: load(), events, stderr: r.stderr };
  if (r.code !== 0) {
    const failed = events.flatMap((e) => (e.type === 'host:finish' && e.error ? [`${e.host}: ${e.step}: ${e.error.message}`] : []));
    throw new Error(`${what} failed (exit ${r.code}):\n${failed.join('\n')}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  }
  console.log(`${what}: ${fmt(ms)} (exit ${r.code}${json ? `, ${changed} changed` : ''}; load ${loadBefore} → ${t.loadAfter})`);
  return t;
}

const { values } = parseArgs({ options: { name: { type: 'string', default: 'rpl-bench' } } });
console.log(`machine: ${await machineDescription()}; ${new Date().toISOString()}`);
const all = ['node1', 'node2', 'node3', 'node4', 'node5'];
const cp = ['node1', 'node2', 'node3'];
const lab = await startClusterLab({ name: values.name, hosts: 5 });
const results: Timed[] = [];
try {
  await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventoryText(lab, all, cp));
  await pinVariables(lab.inventoryDir, { dns_mode: 'none' });
  results.push(await run(lab, 'apply cluster (5 hosts, fresh)', ['apply', 'cluster']));
  const snapshot = path.join(lab.inventoryDir, 'backups', 'bench.db');
  results.push(await run(lab, 'etcd backup', ['etcd', 'backup', '-o', snapshot], false));
  results.push(await run(lab, 'etcd restore', ['etcd', 'restore', snapshot, '--yes'], false));
  results.push(await run(lab, 'remove-node of a worker (node5)', ['apply', 'remove-node', '-e', 'node=node5', '-e', 'drain_grace_period=2', '--yes']));
  await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventoryText(lab, ['node1', 'node2', 'node3', 'node4'], cp));
  results.push(await run(lab, 'remove-node of a live control-plane + etcd host (node3)', ['apply', 'remove-node', '-e', 'node=node3', '-e', 'drain_grace_period=2', '--yes']));
  await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventoryText(lab, ['node1', 'node2', 'node4'], ['node1', 'node2']));
  results.push(await run(lab, 'reset of one host (--limit node4)', ['apply', 'reset', '--limit', 'node4', '--yes']));
} finally {
  await lab.stop();
}
console.log('\n| command | wall time | changed | load average (1, 5, 15 min) before → after |\n|---|---:|---:|---|');
for (const r of results) console.log(`| ${r.what} | ${fmt(r.ms)} | ${r.events.length > 0 ? r.changed : '–'} | ${r.loadBefore} → ${r.loadAfter} |`);
const rmCp = results.find((r) => r.what.includes('node3'));
if (rmCp) {
  console.log('\nremove-node of node3, per play:\n| play | time |\n|---|---:|');
  for (const e of rmCp.events) if (e.type === 'play:finish') console.log(`| ${e.play} | ${fmt(e.durationMs)} |`);
}
