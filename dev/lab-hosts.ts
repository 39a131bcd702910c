/**
 * Lab hosts driven from the root network namespace, for end-to-end tests, benchmarks and the demo.
 * Lab addresses do not exist in the root namespace: everything that talks to a host goes through
 * the lab namespace (`inLab`, `sshExec`, `kprov`). Every caller uses its own lab name so several
 * labs can run in parallel.
 *
 *   const lab = await startLab({ name: 'e2e-keys', hosts: 3 });
 *   try { … await lab.kprov(['apply', 'cluster', '-i', lab.inventoryDir]) … } finally { await lab.stop(); }
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labDown } from '../src/lab/down.js';
import { labExecArgv } from '../src/lab/exec.js';
import { labNamespace } from '../src/lab/names.js';
import { labUp, type LabUpResult } from '../src/lab/up.js';
import { packageRoot } from '../src/paths.js';
import { runCommand, type CommandResult, type RunOpts } from './run-command.js';

export interface SshExecOptions {
  address: string;
  username?: string;
  password?: string;
  /** PEM/OpenSSH private key text. */
  privateKey?: string;
  command: string;
  port?: number;
  timeoutMs?: number;
}

export interface SshExecResult {
  code: number;
  stdout: string;
  stderr: string;
  /** sha256 of the host key the server presented (hex). */
  hostKeySha256: string;
  /** How long connect + authentication + exec took. */
  ms: number;
}

export interface RunningLab {
  name: string;
  namespace: string;
  inventoryDir: string;
  /** root's (and the `kprov` user's) bootstrap password file, 0600. */
  passwordFile: string;
  mirrorRoot: string;
  mirrorUrl: string;
  /** The lab's image registry, http://10.213.0.1:5000 (inside the lab namespace). */
  registryUrl: string;
  hosts: { name: string; address: string }[];
  addresses: string[];
  up: LabUpResult;
  /** Runs argv inside the lab namespace (`ip netns exec`). Never throws on a non-zero exit. */
  inLab(cmd: string[], opts?: RunOpts): Promise<CommandResult>;
  /** Runs the kprov CLI (bin/kprov.js) inside the lab namespace. */
  kprov(args: string[], opts?: RunOpts): Promise<CommandResult>;
  /** Runs argv inside a host (as root, through its init's namespaces; no SSH involved). */
  exec(host: string, cmd: string[], opts?: RunOpts): Promise<CommandResult>;
  /** One SSH login + command with ssh2, from inside the lab namespace. */
  sshExec(options: SshExecOptions): Promise<SshExecResult>;
  /** Takes the lab down and removes the temporary inventory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartLabOptions {
  name: string;
  hosts: number;
  authorizedKey?: string;
  /** Default: a fresh temporary directory (removed by stop()). */
  inventoryDir?: string;
  mirrorRoot?: string;
}

export const kprovBin = path.join(packageRoot, 'bin', 'kprov.js');

/**
 * The ssh2 client run by `sshExec`: parameters arrive on stdin (a password never appears in argv),
 * one JSON line with the result goes to stdout.
 */
const SSH_SCRIPT = `
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
const require = createRequire(process.argv[1] + '/');
const { Client } = require('ssh2');
let input = '';
for await (const chunk of process.stdin) input += chunk;
const p = JSON.parse(input);
const started = Date.now();
let hostKeySha256 = '';
const conn = new Client();
const fail = (message) => { process.stdout.write(JSON.stringify({ error: message }) + '\\n'); process.exit(3); };
const timer = setTimeout(() => fail('timed out'), p.timeoutMs);
conn.on('error', (err) => fail(err.message));
conn.on('ready', () => {
  conn.exec(p.command, (err, stream) => {
    if (err) return fail(err.message);
    let stdout = '', stderr = '';
    stream.on('data', (d) => (stdout += d));
    stream.stderr.on('data', (d) => (stderr += d));
    stream.on('close', (code) => {
      clearTimeout(timer);
      process.stdout.write(JSON.stringify({ code: code ?? 255, stdout, stderr, hostKeySha256, ms: Date.now() - started }) + '\\n');
      conn.end();
    });
  });
});
conn.connect({
  host: p.address, port: p.port, username: p.username, password: p.password, privateKey: p.privateKey,
  readyTimeout: p.timeoutMs, tryKeyboard: false,
  hostVerifier: (key) => { hostKeySha256 = createHash('sha256').update(key).digest('hex'); return true; },
});
`;

export async function startLab(options: StartLabOptions): Promise<RunningLab> {
  // A lab of the same name left by a crashed earlier run of the same test file.
  await labDown(options.name).catch(() => undefined);
  const ownDir = options.inventoryDir === undefined ? await mkdtemp(path.join(tmpdir(), `kprov-${options.name}-`)) : undefined;
  const inventoryDir = options.inventoryDir ?? path.join(ownDir!, 'inventory');
  const namespace = labNamespace(options.name);
  let up: LabUpResult;
  try {
    up = await labUp({
      name: options.name,
      hosts: options.hosts,
      inventoryDir,
      ...(options.mirrorRoot !== undefined ? { mirrorRoot: options.mirrorRoot } : {}),
      ...(options.authorizedKey !== undefined ? { authorizedKey: options.authorizedKey } : {}),
    });
  } catch (err) {
    if (ownDir) await rm(ownDir, { recursive: true, force: true });
    throw err;
  }
  const inLab = (cmd: string[], opts: RunOpts = {}) => runCommand(['ip', 'netns', 'exec', namespace, ...cmd], opts);
  let stopped = false;
  return {
    name: options.name,
    namespace,
    inventoryDir,
    passwordFile: up.passwordFile,
    mirrorRoot: up.mirrorRoot,
    mirrorUrl: up.mirrorUrl,
    registryUrl: up.registryUrl,
    hosts: up.hosts.map((h) => ({ name: h.name, address: h.address })),
    addresses: up.hosts.map((h) => h.address),
    up,
    inLab,
    kprov: (args, opts) => inLab([process.execPath, kprovBin, ...args], opts),
    exec: async (host, cmd, opts) => runCommand(await labExecArgv(options.name, host, cmd), opts),
    sshExec: async (o) => {
      const params = {
        address: o.address,
        port: o.port ?? 22,
        username: o.username ?? 'root',
        password: o.password,
        privateKey: o.privateKey,
        command: o.command,
        timeoutMs: o.timeoutMs ?? 20_000,
      };
      const r = await inLab([process.execPath, '--input-type=module', '-e', SSH_SCRIPT, packageRoot], {
        input: JSON.stringify(params),
        timeoutMs: params.timeoutMs + 10_000,
      });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      let parsed: Partial<SshExecResult> & { error?: string };
      try {
        parsed = JSON.parse(line) as Partial<SshExecResult> & { error?: string };
      } catch {
        throw new Error(`ssh script failed (exit ${r.code}): ${r.stderr.trim()}`);
      }
      if (parsed.error !== undefined) throw new Error(`ssh ${params.username}@${o.address}: ${parsed.error}`);
      return parsed as SshExecResult;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await labDown(options.name);
      if (ownDir) await rm(ownDir, { recursive: true, force: true });
    },
  };
}
