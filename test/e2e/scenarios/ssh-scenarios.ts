/**
 * SSH scenarios run INSIDE a lab's network namespace (`ip netns exec <lab> node …/ssh-scenarios.js`),
 * where the lab hosts are reachable. Input: one JSON object on stdin. Output: one JSON line on
 * stdout that the e2e test (in the root namespace) asserts on. Nothing here prints a secret.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunEvent } from '../../../src/engine/events.js';
import { executePlan } from '../../../src/engine/executor.js';
import { planRun } from '../../../src/engine/run-plan.js';
import { parsePlaybook } from '../../../src/engine/playbook.js';
import { builtinRoleRegistry } from '../../../src/roles/index.js';
import { KprovError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import type { InventoryHost } from '../../../src/inventory/model.js';
import { assertInLabNamespaceIfLab } from '../../../src/lab/netns.js';
import { createConnector, type Connector, type ConnectorOptions } from '../../../src/ssh/connector.js';
import type { SshEvent } from '../../../src/ssh/events.js';
import { gatherFacts } from '../../../src/ssh/facts.js';
import { distributeClusterKeys } from '../../../src/ssh/key-distribution.js';
import type { SshRemoteHost } from '../../../src/ssh/remote-host.js';

export interface ScenarioInput {
  scenario: string;
  /** An inventory directory, loaded the way every kprov command loads it. */
  inventoryDir: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** For `roles`: plan only. */
  dryRun?: boolean;
  /** Host the single-host scenarios work on. */
  host?: string;
}

export interface ErrorReport {
  message: string;
  hint?: string | undefined;
  host?: string | undefined;
  code?: string;
}

function report(err: unknown): ErrorReport {
  if (err instanceof KprovError) return { message: err.message, hint: err.hint, host: err.host, code: err.code };
  return { message: err instanceof Error ? err.message : String(err) };
}

interface Setup {
  connector: Connector;
  events: SshEvent[];
  hosts: InventoryHost[];
}

async function setup(input: ScenarioInput): Promise<Setup> {
  const inventory = await loadInventory(input.inventoryDir);
  const events: SshEvent[] = [];
  const options: ConnectorOptions = {
    networkGuard: assertInLabNamespaceIfLab,
    onEvent: (e) => events.push(e),
    env: {},
    ...(input.connectTimeoutMs !== undefined ? { connectTimeoutMs: input.connectTimeoutMs } : {}),
    ...(input.commandTimeoutMs !== undefined ? { commandTimeoutMs: input.commandTimeoutMs } : {}),
  };
  return { connector: createConnector(inventory, options), events, hosts: inventory.hosts };
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Key distribution for every host, then who we are on each host over the run's connection. */
async function distribute(input: ScenarioInput) {
  const { connector, events, hosts: inventoryHosts } = await setup(input);
  const started = Date.now();
  try {
    const names = inventoryHosts.map((h) => h.name);
    const results = await distributeClusterKeys(connector, names);
    const hosts = await Promise.all(
      results.map(async (r) => {
        if (r.error) return { host: r.host, error: report(r.error) };
        const remote = await connector.connect(r.host);
        const who = await remote.run(['id', '-un'], { asLoginUser: true });
        return { host: r.host, ...r.result, method: remote.loginMethod, user: who.stdout.trim() };
      }),
    );
    return { ms: Date.now() - started, hosts, handshakes: connector.stats().handshakes, events };
  } finally {
    await connector.closeAll();
  }
}

/** Connects to every host and runs `true`; each host's outcome and time. */
async function connectAll(input: ScenarioInput) {
  const { connector, events, hosts: inventoryHosts } = await setup(input);
  const started = Date.now();
  try {
    const hosts = await Promise.all(
      inventoryHosts.map(async (h) => {
        const t0 = Date.now();
        try {
          const remote = await connector.connect(h.name);
          const r = await remote.run(['sh', '-c', 'echo "$SSH_CONNECTION"'], { asLoginUser: true });
          return { host: h.name, ok: true, ms: Date.now() - t0, method: remote.loginMethod, sshConnection: r.stdout.trim() };
        } catch (err) {
          return { host: h.name, ok: false, ms: Date.now() - t0, error: report(err) };
        }
      }),
    );
    return { ms: Date.now() - started, hosts, handshakes: connector.stats().handshakes, events };
  } finally {
    await connector.closeAll();
  }
}

/** writeFile/uploadFile: skip when equal, mode-only changes, atomic replacement under a concurrent reader. */
async function files(input: ScenarioInput) {
  const { connector, hosts: inventoryHosts } = await setup(input);
  const local = await mkdtemp(path.join(tmpdir(), 'kprov-e2e-files-'));
  try {
    const host = await connector.connect(input.host ?? inventoryHosts[0]!.name);
    const dir = `/etc/kprov-e2e-${randomBytes(3).toString('hex')}/sub dir`;
    const file = `${dir}/it's a "file".conf`;
    const out: Record<string, unknown> = {};
    out.firstWrite = await host.writeFile(file, 'hello\n', { mode: 0o640, owner: 'root', group: 'root' });
    const afterFirst = host.bytesUploaded;
    out.secondWrite = await host.writeFile(file, 'hello\n', { mode: 0o640, owner: 'root', group: 'root' });
    out.bytesAfterSecond = host.bytesUploaded - afterFirst;
    out.modeOnlyWrite = await host.writeFile(file, 'hello\n', { mode: 0o600 });
    out.bytesAfterModeOnly = host.bytesUploaded - afterFirst;
    out.stat = (await host.run(['stat', '-c', '%a %U %G', '--', file])).stdout.trim();
    out.readBack = (await host.readFile(file))?.toString('utf8');
    out.sha256Matches = (await host.sha256(file)) === sha256('hello\n');
    out.missingSha = (await host.sha256(`${dir}/nope`)) ?? null;
    out.missingRead = (await host.readFile(`${dir}/nope`)) ?? null;

    // Atomicity: a reader hashes the file in a loop on another channel while it is replaced
    // several times; every read must see one whole version, never a partial or missing file.
    const big = `${dir}/big.bin`;
    const versions = [randomBytes(2 * 1024 * 1024), randomBytes(2 * 1024 * 1024)];
    await host.writeFile(big, versions[0]!, { mode: 0o644 });
    const stop = `${dir}/stop`;
    const reader = host.run([
      'sh',
      '-c',
      'i=0; while [ ! -e "$2" ] && [ $i -lt 20000 ]; do { sha256sum < "$1" || echo MISSING; } 2>/dev/null | cut -c1-64; i=$((i+1)); done | sort | uniq -c',
      'reader',
      big,
      stop,
    ]);
    const writes: boolean[] = [];
    for (let i = 1; i <= 8; i++) writes.push(await host.writeFile(big, versions[i % 2]!, { mode: 0o644 }));
    await host.run(['touch', stop]);
    const seen = (await reader).stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .map(([count, hash]) => ({ count: Number(count), hash: hash ?? '' }));
    out.atomic = {
      writes,
      seen,
      versions: versions.map((v) => sha256(v)),
    };
    out.leftovers = (await host.run(['sh', '-c', 'ls -A "$1" | grep kprov- || true', 'ls', dir])).stdout.trim();

    // uploadFile streams a local file; the second upload of the same file sends nothing.
    const localFile = path.join(local, 'payload.bin');
    const payload = randomBytes(5 * 1024 * 1024 + 123);
    await writeFile(localFile, payload);
    const beforeUpload = host.bytesUploaded;
    const t0 = Date.now();
    out.upload1 = await host.uploadFile(localFile, `${dir}/payload.bin`, { mode: 0o755 });
    out.uploadMs = Date.now() - t0;
    out.uploadBytes = host.bytesUploaded - beforeUpload;
    out.upload2 = await host.uploadFile(localFile, `${dir}/payload.bin`, { mode: 0o755, sha256: sha256(payload) });
    out.uploadBytesAfterSecond = host.bytesUploaded - beforeUpload;
    out.uploadRemoteSha = await host.sha256(`${dir}/payload.bin`);
    out.uploadLocalSha = sha256(payload);
    out.payloadSize = payload.length;

    // run() failure carries command, exit code and output.
    try {
      await host.run(['sh', '-c', 'echo to-stdout; echo "it failed" >&2; exit 3']);
      out.runError = null;
    } catch (err) {
      const e = err as Error & { status?: number; command?: string; stderr?: string };
      out.runError = { name: e.name, message: e.message, status: e.status, command: e.command, stderr: e.stderr };
    }
    out.execCode = (await host.exec(['sh', '-c', 'exit 7'])).code;
    // A command over its time bound is killed and reported.
    try {
      await host.run(['sleep', '30'], { timeoutMs: 500 });
      out.timeout = null;
    } catch (err) {
      out.timeout = report(err);
    }
    out.stdin = (await host.run(['cat'], { stdin: 'from stdin\n' })).stdout;
    out.env = (await host.run(['sh', '-c', 'printf %s "$K"'], { env: { K: "a 'quoted' $value" } })).stdout;
    await host.run(['rm', '-rf', '--', path.posix.dirname(dir)]);
    out.handshakes = connector.stats().handshakes;
    return out;
  } finally {
    await connector.closeAll();
    await rm(local, { recursive: true, force: true });
  }
}

/** Non-root login with become: commands and writes run as root, ~/.ssh stays the user's. */
async function become(input: ScenarioInput) {
  const { connector, hosts: inventoryHosts } = await setup(input);
  try {
    const hosts = await Promise.all(
      inventoryHosts.map(async (h) => {
        try {
          const host = await connector.connect(h.name);
          const file = '/etc/kprov-e2e-become/secret.conf';
          const wrote = await host.writeFile(file, 'only root\n', { mode: 0o600 });
          const again = await host.writeFile(file, 'only root\n', { mode: 0o600 });
          const st = (await host.run(['stat', '-c', '%a %U %G', file])).stdout.trim();
          const read = (await host.readFile(file))?.toString('utf8');
          const uid = (await host.run(['id', '-u'])).stdout.trim();
          const loginUid = (await host.run(['id', '-un'], { asLoginUser: true })).stdout.trim();
          const leftovers = (await host.run(['sh', '-c', 'ls -A "$HOME" | grep kprov- || true'], { asLoginUser: true })).stdout.trim();
          await host.run(['rm', '-rf', '/etc/kprov-e2e-become']);
          return { host: h.name, wrote, again, stat: st, read, uid, loginUid, method: host.loginMethod, leftovers };
        } catch (err) {
          return { host: h.name, error: report(err) };
        }
      }),
    );
    return { hosts, handshakes: connector.stats().handshakes };
  } finally {
    await connector.closeAll();
  }
}

/** The connection drops (its sshd is killed): re-established once, the second drop fails the host. */
async function reconnect(input: ScenarioInput) {
  const { connector, events, hosts: inventoryHosts } = await setup(input);
  try {
    const host: SshRemoteHost = await connector.connect(input.host ?? inventoryHosts[0]!.name);
    await host.run(['true']);
    // The command runs under timeout(1), whose parent is the sshd process serving this connection.
    const kill = ['sh', '-c', 'kill -9 $(ps -o ppid= -p $PPID)'];
    const first = await host.exec(kill, { asLoginUser: true }).then(() => 'survived', (e: unknown) => report(e));
    await new Promise((r) => setTimeout(r, 300));
    const afterFirst = await host.run(['echo', 'again']).then((r) => r.stdout.trim(), (e: unknown) => report(e));
    const second = await host.exec(kill, { asLoginUser: true }).then(() => 'survived', (e: unknown) => report(e));
    await new Promise((r) => setTimeout(r, 300));
    const afterSecond = await host.run(['echo', 'again']).then((r) => r.stdout.trim(), (e: unknown) => report(e));
    return { first, afterFirst, second, afterSecond, handshakes: connector.stats().handshakes, events };
  } finally {
    await connector.closeAll();
  }
}

async function facts(input: ScenarioInput) {
  const { connector, hosts: inventoryHosts } = await setup(input);
  try {
    return {
      hosts: await Promise.all(inventoryHosts.map(async (h) => ({ host: h.name, facts: await gatherFacts(await connector.connect(h.name)) }))),
    };
  } finally {
    await connector.closeAll();
  }
}

/**
 * The ssh-keys and facts roles through the real engine: a play over every host, as the first
 * play of cluster.yml runs them. `dryRun` plans only.
 */
async function roles(input: ScenarioInput) {
  const { connector, events, hosts: inventoryHosts } = await setup(input);
  const inventory = await loadInventory(input.inventoryDir);
  const playbook = parsePlaybook('- name: take over hosts\n  hosts: all\n  roles: [ssh-keys, facts]\n', 'scenario.yml');
  const plan = planRun(playbook, inventory, builtinRoleRegistry());
  const engineEvents: RunEvent[] = [];
  const result = await executePlan(plan, {
    dryRun: input.dryRun === true,
    run: undefined,
    connector: { connect: (h) => connector.connect(h), closeAll: () => connector.closeAll() },
    emit: (e) => engineEvents.push(e),
  });
  const changes = engineEvents.flatMap((e) =>
    e.type === 'task:finish' ? e.changes.map((c) => ({ host: e.host, task: e.task, summary: c.summary })) : [],
  );
  const warnings = engineEvents.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
  const failures = engineEvents.flatMap((e) => (e.type === 'host:finish' && e.error ? [{ host: e.host, error: e.error }] : []));
  return { status: result.status, recap: result.recap, changes, warnings, failures, handshakes: connector.stats().handshakes, events, hosts: inventoryHosts.length };
}

const scenarios: Record<string, (input: ScenarioInput) => Promise<unknown>> = {
  roles,
  distribute,
  'connect-all': connectAll,
  files,
  become,
  reconnect,
  facts,
};

async function main(): Promise<void> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  const input = JSON.parse(text) as ScenarioInput;
  const run = scenarios[input.scenario];
  if (!run) throw new Error(`unknown scenario ${input.scenario}`);
  const result = await run(input);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ scenarioError: report(err) })}\n`);
  process.exitCode = 1;
});
