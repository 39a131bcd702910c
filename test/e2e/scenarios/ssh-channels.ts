/**
 * Runs INSIDE a lab's network namespace: many commands and file writes at once over one kprov
 * connection, and for comparison the same burst of raw channel opens over a bare ssh2 client.
 * Input (stdin): {"inventoryDir": DIR, "host": NAME}. Output: one JSON line.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
// ssh2 is CommonJS: Node's ESM loader sees only its default export.
import ssh2 from 'ssh2';
import { loadInventory } from '../../../src/inventory/load.js';
import { assertInLabNamespaceIfLab } from '../../../src/lab/netns.js';
import { createConnector } from '../../../src/ssh/connector.js';

interface Input {
  inventoryDir: string;
  host: string;
}

const input = JSON.parse(await readStdin()) as Input;
const inventory = await loadInventory(input.inventoryDir, { strict: false });
const target = inventory.hosts.find((h) => h.name === input.host)!;

// A bare client opening 40 exec channels at once: what sshd does with more than MaxSessions.
const password = (await readFile(path.join(input.inventoryDir, 'credentials', 'bootstrap-password'), 'utf8')).trim();
const raw = new ssh2.Client();
await new Promise<void>((resolve, reject) => {
  raw.on('ready', () => resolve()).on('error', reject);
  raw.connect({ host: target.address, username: 'root', password, hostVerifier: () => true, readyTimeout: 20_000 });
});
const rawResults = await Promise.all(
  Array.from({ length: 40 }, () => new Promise<string>((resolve) => {
    raw.exec('sleep 0.2', (err, stream) => {
      if (err) return resolve(err.message);
      stream.on('close', () => resolve('ok')).resume();
      stream.stderr.resume();
    });
  })),
);
raw.end();

// The same through kprov's connection: queued, and a refused open tried again.
const connector = createConnector({ dir: inventory.dir, hosts: inventory.hosts, groups: inventory.groups }, { networkGuard: assertInLabNamespaceIfLab });
const host = await connector.connect(input.host);
const failures: string[] = [];
let commands = 0;
const started = Date.now();
for (let round = 0; round < 10; round++) {
  const work = [
    ...Array.from({ length: 30 }, (_, i) =>
      host.exec(['sh', '-c', `sleep 0.0${i % 5}; echo ${round}-${i}`]).then((r) => {
        commands += 1;
        if (r.code !== 0 || r.stdout.trim() !== `${round}-${i}`) failures.push(`exec ${round}-${i}: exit ${r.code}`);
      }),
    ),
    ...Array.from({ length: 3 }, (_, i) => host.writeFile(`/tmp/kprov-chan-${i}`, `round ${round}\n`, { mode: 0o644 }).then(() => undefined)),
  ];
  for (const r of await Promise.allSettled(work)) if (r.status === 'rejected') failures.push((r.reason as Error).message);
}
await connector.closeAll();
process.stdout.write(
  `${JSON.stringify({
    rawRefused: rawResults.filter((r) => r !== 'ok'),
    commands,
    failures,
    ms: Date.now() - started,
    handshakes: connector.stats().handshakes[input.host],
  })}\n`,
);

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}
