/**
 * `kprov apply upgrade-cluster` of a 5-host lab cluster from v1.13.5 to v1.13.6 (the lab's mirror
 * serves both stand-in releases): node1–3 control plane + etcd, node4–5 workers, no cluster DNS.
 * Builds the cluster at v1.13.5 (`kprov apply cluster`), pins kube_version v1.13.6, then times
 * the upgrade (each a `kprov … --json` process in the lab namespace, as a user runs it) and a
 * second upgrade with nothing to do. Prints the wall time, tasks changed, the time per play and
 * the machine's load average around each run. Needs root.
 *
 *   npm run build && node dist/bench/upgrade.js [--name upg-b5] [--serial 1] [--events FILE (every run's JSON events)]
 */
import { loadavg } from 'node:os';
import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { kubeVersionPins, pinVariables, startClusterLab, UPGRADE_KUBE_VERSION } from '../dev/cluster-lab.js';
import type { RunEvent } from '../src/engine/events.js';
import { machineDescription } from './machine.js';

const HOSTS = 5;
const load = () => loadavg()[0]!.toFixed(1);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { name: { type: 'string', default: 'upg-b5' }, serial: { type: 'string', default: '1' }, events: { type: 'string' } } });
  const lab = await startClusterLab({ name: values.name!, hosts: HOSTS });
  try {
    const ips = lab.hosts.map((h) => h.address);
    const names = lab.hosts.map((h) => h.name);
    const line = (i: number) => `${names[i]} ansible_host=${ips[i]} ip=${ips[i]} access_ip=${ips[i]}`;
    await writeFile(
      path.join(lab.inventoryDir, 'inventory.ini'),
      `[all]\n${names.map((_, i) => line(i)).join('\n')}\n\n[kube_control_plane]\nnode1\nnode2\nnode3\n\n[etcd]\nnode1\nnode2\nnode3\n\n[kube_node]\n${names.join('\n')}\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`,
    );
    await pinVariables(lab.inventoryDir, { dns_mode: 'none', drain_grace_period: '2' });
    const run = async (label: string, args: string[]) => {
      const before = load();
      const started = performance.now();
      const r = await lab.kprov([...args, '-i', lab.inventoryDir, '--json', '-e', `serial=${values.serial}`], { timeoutMs: 1_800_000 });
      const ms = performance.now() - started;
      const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as RunEvent);
      if (values.events) await appendFile(values.events, r.stdout);
      const changed = events.filter((e) => e.type === 'task:finish' && e.status === 'changed').length;
      // Per play: its wall time, and the host-seconds spent in reads, tasks and handlers.
      const sum = (play: string, type: RunEvent['type']) =>
        events.reduce((n, e) => n + (e.type === type && 'play' in e && e.play === play && 'durationMs' in e ? (e.durationMs as number) : 0), 0) / 1000;
      const plays = events.flatMap((e) =>
        e.type === 'play:finish'
          ? [`${e.play} ${(e.durationMs / 1000).toFixed(1)} s (host-seconds: read ${sum(e.play, 'host:read').toFixed(1)}, tasks ${sum(e.play, 'task:finish').toFixed(1)}, handlers ${sum(e.play, 'handler:finish').toFixed(1)})`]
          : [],
      );
      const slowest = events
        .flatMap((e) => (e.type === 'task:finish' && e.durationMs >= 1_000 ? [{ ms: e.durationMs, what: `${e.host} ${e.role}: ${e.task}` }] : []))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 12);
      console.log(`${label}: exit ${r.code}, ${(ms / 1000).toFixed(1)} s, ${changed} task(s) changed, load ${before} → ${load()}`);
      for (const p of plays) console.log(`  ${p}`);
      if (slowest.length > 0) console.log(`  slowest tasks: ${slowest.map((t) => `${t.what} ${(t.ms / 1000).toFixed(1)} s`).join('; ')}`);
      if (r.code !== 0) throw new Error(`${label} exited ${r.code}: ${r.stderr.slice(-2000)}`);
    };
    console.log(await machineDescription());
    await run('apply cluster (v1.13.5)', ['apply', 'cluster']);
    await pinVariables(lab.inventoryDir, kubeVersionPins(lab.release, UPGRADE_KUBE_VERSION));
    await run(`upgrade-cluster → ${UPGRADE_KUBE_VERSION} (serial ${values.serial})`, ['apply', 'upgrade-cluster']);
    await run('upgrade-cluster again (nothing to do)', ['apply', 'upgrade-cluster']);
  } finally {
    await lab.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
