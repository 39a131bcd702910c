/**
 * The SSH layer's floor: connect + exec `true` on 1, 5 and 20 lab hosts through createConnector,
 * as a re-run would (cluster key already authorized, host keys pinned). Boots a 20-host lab,
 * distributes the cluster key once (timed as "first run"), then measures each size in a fresh
 * process inside the lab namespace. Needs root.
 *
 *   npm run build && node dist/bench/ssh-noop.js [--runs 5] [--sizes 1,5,20]
 *
 * Per size: median and best wall time (connect + `true` on every host, in parallel), the same
 * including closing, SSH handshakes per host (must be 1), the measuring process's peak RSS, and
 * plain ssh2 doing the same (the floor; runs interleaved with ours).
 */
import { fileURLToPath } from 'node:url';
import { loadInventory } from '../src/inventory/load.js';
import { fmtSeconds, median, runLabChild, sizedBenchOptions, withBenchLab, type ChildSample } from './lab-child.js';
import ssh2 from 'ssh2';
import { loadClusterKey } from '../src/ssh/cluster-key.js';
import { assertInLabNamespaceIfLab } from '../src/lab/netns.js';
import { createConnector, knownHostsPath } from '../src/ssh/connector.js';
import { KnownHostsFile, knownHostsName, verdictFor } from '../src/ssh/known-hosts.js';
import { distributeClusterKeys } from '../src/ssh/key-distribution.js';

const NAME = 'bench-ssh';
const self = fileURLToPath(import.meta.url);

interface Sample {
  hosts: number;
  connectExecMs: number;
  totalMs: number;
  handshakes: number[];
  failed: string[];
  peakRssMb: number;
  baseRssMb: number;
}

/**
 * The floor to compare with: plain ssh2 (connect with the cluster key, exec `true`), host keys
 * still checked against the pinned known_hosts, none of the SSH layer around it.
 */
async function bare(inventoryDir: string, names: string[], addresses: string[], failed: string[]): Promise<void> {
  const key = await loadClusterKey(inventoryDir, 'ed25519');
  if (!key) throw new Error('no cluster key');
  const entries = await new KnownHostsFile(knownHostsPath(inventoryDir)).load();
  await Promise.all(
    addresses.map(
      (address, i) =>
        new Promise<void>((resolve) => {
          const client = new ssh2.Client();
          const done = (err?: Error) => {
            if (err) failed.push(`${names[i]}: ${err.message}`);
            client.end();
            resolve();
          };
          client.on('error', done);
          client.on('ready', () =>
            client.exec('true', (err, stream) => {
              if (err) return done(err);
              stream.on('close', () => done()).resume();
            }),
          );
          client.connect({
            host: address,
            username: 'root',
            privateKey: key.privateKeyText(),
            hostVerifier: (blob: Buffer) => verdictFor(entries, knownHostsName(address, 22), blob).kind === 'trusted',
          });
        }),
    ),
  );
}

/** In the lab namespace: one measured run over the inventory's first `hosts` hosts. */
async function child(mode: 'noop' | 'distribute' | 'bare', inventoryDir: string, hosts: number): Promise<void> {
  const baseRssMb = process.resourceUsage().maxRSS / 1024;
  const inventory = await loadInventory(inventoryDir);
  const chosen = inventory.hosts.slice(0, hosts);
  const names = chosen.map((h) => h.name);
  const connector = createConnector({ dir: inventory.dir, hosts: chosen, groups: { all: names } }, { env: {}, networkGuard: assertInLabNamespaceIfLab });
  const failed: string[] = [];
  const t0 = performance.now();
  if (mode === 'bare') {
    await bare(inventory.dir, names, chosen.map((h) => h.address), failed);
  } else if (mode === 'distribute') {
    for (const r of await distributeClusterKeys(connector, names)) if (r.error) failed.push(`${r.host}: ${String(r.error)}`);
  } else {
    await Promise.all(
      names.map(async (name) => {
        try {
          await (await connector.connect(name)).run(['true']);
        } catch (err) {
          failed.push(`${name}: ${(err as Error).message}`);
        }
      }),
    );
  }
  const connectExecMs = performance.now() - t0;
  await connector.closeAll();
  const totalMs = performance.now() - t0;
  const handshakes = names.map((n) => connector.stats().handshakes[n] ?? 0);
  const sample: Sample = { hosts, connectExecMs, totalMs, handshakes, failed, peakRssMb: process.resourceUsage().maxRSS / 1024, baseRssMb };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

function runChild(mode: string, inventoryDir: string, hosts: number): Promise<Sample & ChildSample> {
  return runLabChild<Sample>(NAME, self, [mode, inventoryDir, String(hosts)]);
}

const fmt = fmtSeconds;

async function main(): Promise<void> {
  const { runs, sizes, largest } = sizedBenchOptions(5);
  await withBenchLab(NAME, largest, async (inventoryDir) => {
    const first = await runChild('distribute', inventoryDir, largest);
    if (first.failed.length > 0) throw new Error(`key distribution failed: ${first.failed.join('; ')}`);
    console.log(
      `first run (password login, key appended, key login proven) on ${largest} hosts: ${fmt(first.connectExecMs)}, ` +
        `handshakes/host ${Math.min(...first.handshakes)}–${Math.max(...first.handshakes)}, peak RSS ${first.peakRssMb.toFixed(0)} MB`,
    );
    console.log('\n| hosts | connect + `true`, median (best) | incl. close, median | handshakes/host | peak RSS (Node baseline) | bare ssh2, median (best) |');
    console.log('|---:|---:|---:|---:|---:|---:|');
    for (const n of sizes) {
      const samples: Sample[] = [];
      const bareSamples: Sample[] = [];
      // Interleaved, so both see the same machine load.
      for (let i = 0; i < runs; i++) {
        samples.push(await runChild('noop', inventoryDir, n));
        bareSamples.push(await runChild('bare', inventoryDir, n));
      }
      const bareWall = bareSamples.map((s) => s.connectExecMs);
      const failed = [...samples, ...bareSamples].flatMap((s) => s.failed);
      if (failed.length > 0) throw new Error(`hosts failed: ${failed.join('; ')}`);
      const hs = samples.flatMap((s) => s.handshakes);
      const wall = samples.map((s) => s.connectExecMs);
      console.log(
        `| ${n} | ${fmt(median(wall))} (${fmt(Math.min(...wall))}) | ${fmt(median(samples.map((s) => s.totalMs)))} | ` +
          `${Math.min(...hs)}–${Math.max(...hs)} | ${median(samples.map((s) => s.peakRssMb)).toFixed(0)} MB (${median(samples.map((s) => s.baseRssMb)).toFixed(0)} MB) | ` +
          `${fmt(median(bareWall))} (${fmt(Math.min(...bareWall))}) |`,
      );
    }
  });
}

const childArg = process.argv.indexOf('--child');
if (childArg >= 0) {
  const [mode, inventoryDir, hosts] = process.argv.slice(childArg + 1);
  await child(mode === 'distribute' || mode === 'bare' ? mode : 'noop', inventoryDir!, Number(hosts));
} else {
  await main();
}
