/**
 * `kprov apply scale --limit NEW` adding one worker to a cluster of 5 and of 20 lab hosts: what
 * adding a node costs, and whether that cost stays flat as the cluster grows (Kubespray's
 * scale.yml reconfigures every node; kubernetes-sigs/kubespray#3651, #6246). Per size, one lab of
 * size + 1 hosts (node1 control plane + etcd + node, the others nodes) serving the stand-in
 * release: `kprov apply cluster` on the first `size` hosts, then the last host joins the
 * inventory and `kprov apply scale --limit nodeN` runs, timed from spawn to exit, then once
 * more (nothing to do). One lab at a time, always taken down. Needs root.
 *
 *   npm run build && node dist/bench/scale.js [--sizes 5,20] [--prefix scl-b]
 *
 * Per size: the scale command's wall time and its plays, tasks changed on the new host and on
 * the hosts already there, hosts the run connected to, and the load average around it.
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pinVariables, startClusterLab, type ClusterLab } from '../dev/cluster-lab.js';
import type { RunEvent } from '../src/engine/events.js';
import { machineDescription } from './machine.js';

interface Applied {
  code: number;
  ms: number;
  events: RunEvent[];
  stderr: string;
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function inventoryText(lab: ClusterLab, hosts: number): string {
  const names = lab.hosts.slice(0, hosts).map((h) => h.name);
  const lines = lab.hosts.slice(0, hosts).map((h) => `${h.name} ansible_host=${h.address} ip=${h.address}`);
  return `[all]\n${lines.join('\n')}\n\n[kube_control_plane]\nnode1\n\n[etcd]\nnode1\n\n[kube_node]\n${names.join('\n')}\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`;
}

async function apply(lab: ClusterLab, args: string[]): Promise<Applied> {
  const started = performance.now();
  const r = await lab.kprov([...args, '-i', lab.inventoryDir, '--json'], { timeoutMs: 1_200_000 });
  const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as RunEvent);
  return { code: r.code, ms: performance.now() - started, events, stderr: r.stderr };
}

function failures(a: Applied): string {
  const failed = a.events.flatMap((e) => (e.type === 'host:finish' && e.error ? [`${e.host}: ${e.step}: ${e.error.message}`] : []));
  return `${failed.join('\n')}\n${a.stderr.slice(-2000)}`;
}

interface Measured {
  size: number;
  bootMs: number;
  buildMs: number;
  scale: Applied;
  again: Applied;
  loadBefore: string;
  loadAfter: string;
}

async function measure(prefix: string, size: number): Promise<Measured> {
  const bootStarted = performance.now();
  const lab = await startClusterLab({ name: `${prefix}${size}`, hosts: size + 1, pushImages: false });
  try {
    const bootMs = performance.now() - bootStarted;
    await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventoryText(lab, size));
    await pinVariables(lab.inventoryDir, { dns_mode: 'none' });
    const built = await apply(lab, ['apply', 'cluster']);
    if (built.code !== 0) throw new Error(`apply cluster on ${size} hosts failed:\n${failures(built)}`);
    const newHost = lab.hosts[size]!.name;
    await writeFile(path.join(lab.inventoryDir, 'inventory.ini'), inventoryText(lab, size + 1));
    const loadBefore = load();
    const scale = await apply(lab, ['apply', 'scale', '--limit', newHost]);
    const loadAfter = load();
    if (scale.code !== 0) throw new Error(`apply scale --limit ${newHost} failed:\n${failures(scale)}`);
    const again = await apply(lab, ['apply', 'scale', '--limit', newHost]);
    return { size, bootMs, buildMs: built.ms, scale, again, loadBefore, loadAfter };
  } finally {
    await lab.stop();
  }
}

function report(m: Measured): void {
  const newHost = `node${m.size + 1}`;
  const finish = m.scale.events.find((e): e is Extract<RunEvent, { type: 'run:finish' }> => e.type === 'run:finish');
  const recap = finish?.recap ?? [];
  const mine = recap.find((r) => r.host === newHost);
  const others = recap.filter((r) => r.host !== newHost);
  const againChanged = m.again.events.flatMap((e) => (e.type === 'run:finish' ? e.recap.map((r) => r.changed) : [])).reduce((a, b) => a + b, 0);
  console.log(`\n### ${m.size}-host cluster + 1 worker (${newHost})`);
  console.log(`lab of ${m.size + 1} hosts up in ${fmt(m.bootMs)}; apply cluster on ${m.size} hosts ${fmt(m.buildMs)}`);
  console.log(`load average before / after scale: ${m.loadBefore} / ${m.loadAfter}`);
  console.log(`apply scale --limit ${newHost}: **${fmt(m.scale.ms)}** (whole process); run ${fmt(finish?.durationMs ?? 0)}`);
  console.log(`changed: ${newHost} ${mine?.changed ?? '?'} tasks; the ${others.length} hosts already there ${others.map((r) => r.changed).join('/')} (routes, unit file, daemon-reload); hosts connected: ${recap.length}`);
  console.log(`again (nothing to do): ${fmt(m.again.ms)}, ${againChanged} changed`);
  console.log('\n| play | time |\n|---|---:|');
  for (const e of m.scale.events) if (e.type === 'play:finish') console.log(`| ${e.play} | ${fmt(e.durationMs)} |`);
}

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '5,20' }, prefix: { type: 'string', default: 'scl-b' } } });
const sizes = values.sizes.split(',').map(Number);
console.log(`machine: ${await machineDescription()}; ${new Date().toISOString()}`);
const results: Measured[] = [];
for (const size of sizes) {
  const m = await measure(values.prefix, size);
  results.push(m);
  report(m);
}
const five = results.find((r) => r.size === 5);
const twenty = results.find((r) => r.size === 20);
if (five) console.log(`\n5-host + 1: ${fmt(five.scale.ms)} (target ≤ 20 s)`);
if (five && twenty) console.log(`20-host + 1 / 5-host + 1: ${(twenty.scale.ms / five.scale.ms).toFixed(2)}× (target ≤ 1.5×)`);
