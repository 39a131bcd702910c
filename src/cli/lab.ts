import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { KprovError } from '../errors.js';
import { labDown } from '../lab/down.js';
import type { LabEvent } from '../lab/events.js';
import { labExecArgv } from '../lab/exec.js';
import { DEFAULT_HOSTS, DEFAULT_LAB_NAME, MAX_HOSTS, MIN_HOSTS, validateLabName } from '../lab/names.js';
import { allLabStatuses, labStatus, type LabStatus } from '../lab/status.js';
import { RELEASE_FILE } from '../lab/release-pins.js';
import { labUp } from '../lab/up.js';
import type { CliIO } from './io.js';
import { setExitCode } from './exit-code.js';

const upOptionsSchema = z.object({
  hosts: z
    .string()
    .regex(/^\d+$/, `--hosts must be a whole number from ${MIN_HOSTS} to ${MAX_HOSTS}`)
    .transform(Number)
    .optional(),
  name: z.string().optional(),
  inventory: z.string().optional(),
  mirrorRoot: z.string().optional(),
  authorizedKey: z.string().optional(),
  bootTimeout: z
    .string()
    .regex(/^\d+$/, '--boot-timeout must be a number of seconds')
    .transform((s) => Number(s) * 1000)
    .optional(),
});

const nameOptionsSchema = z.object({ name: z.string().optional(), json: z.boolean().optional() });

const publicKeySchema = z
  .string()
  .trim()
  .regex(/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/, 'is not an OpenSSH public key');

function parseOptions<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new KprovError('usage', parsed.error.issues[0]?.message ?? 'invalid options');
  return parsed.data;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One plain line per event worth a person's attention; the rest stay quiet. */
function describeEvent(event: LabEvent): string | undefined {
  switch (event.type) {
    case 'base-image':
      if (event.status === 'building') return 'Building the lab base image with debootstrap (about a minute, once)…';
      if (event.status === 'built') return `Built the base image in ${seconds(event.ms ?? 0)}: ${event.path}`;
      return undefined;
    case 'registry-binary':
      return event.status === 'fetching' ? `Fetching the lab registry's program (Debian's docker-registry ${event.version}, once)…` : undefined;
    case 'network':
      return `Lab network: namespace ${event.namespace}, no route out`;
    case 'host-ssh':
      return `${event.host} ${event.address}: sshd answered ${seconds(event.ms)} after start`;
    case 'host-ready':
      return event.state === 'running' ? undefined : `${event.host}: systemd is ${event.state}`;
    case 'release':
      return event.pins
        ? `Inventory pinned to the mirror's release: ${Object.entries(event.pins).map(([k, v]) => `${k.replace(/_version$/, '')} ${v}`).join(', ')}`
        : `The mirror serves no ${RELEASE_FILE} in ${event.mirrorRoot}: set kube_version, etcd_version, containerd_version, runc_version and cni_version in the inventory to the versions it serves`;
    case 'cleanup':
      return `Taking the lab down again: ${event.reason}`;
    case 'host-stopped':
      return event.outcome === 'killed' || event.outcome === 'survived' ? `${event.host}: did not power off in time (${event.outcome})` : undefined;
    default:
      return undefined;
  }
}

function formatStatus(s: LabStatus, cwd: string): string[] {
  const running = s.hosts.filter((h) => h.running).length;
  const inventory = s.inventoryDir ? `, inventory ${path.relative(cwd, s.inventoryDir) || '.'}` : '';
  const lines = [`${s.name}: ${s.phase}, ${running}/${s.hosts.length} hosts running, namespace ${s.namespace}${s.namespaceExists ? '' : ' (missing)'}${inventory}`];
  if (s.error) lines.push(`  problem: ${s.error}`);
  if (s.mirror) lines.push(`  mirror   ${s.mirror.url}  ${s.mirror.running ? 'running' : 'stopped'}  serving ${s.mirror.root}`);
  if (s.registry) lines.push(`  registry ${s.registry.url}  ${s.registry.running ? 'running' : 'stopped'}  storage ${s.registry.storage}`);
  for (const h of s.hosts) lines.push(`  ${h.name.padEnd(7)} ${h.address.padEnd(13)} ${h.running ? 'running' : 'stopped'}  machine ${h.machine}`);
  return lines;
}

export function registerLab(program: Command, io: CliIO): void {
  const lab = program
    .command('lab')
    .description('throwaway Debian hosts (systemd + sshd) on this machine, for trying and testing kprov');

  lab
    .command('up')
    .description('boot lab hosts and write an inventory for them')
    .option('--hosts <n>', `number of hosts (${MIN_HOSTS}–${MAX_HOSTS}, default ${DEFAULT_HOSTS})`)
    .option('--name <name>', `lab name (default ${DEFAULT_LAB_NAME})`)
    .option('--inventory <dir>', 'inventory directory to write (default inventory/<name>)')
    .option('--mirror-root <dir>', 'directory the artifact mirror serves (default <inventory>/../.mirror)')
    .option('--authorized-key <file>', 'also authorize this OpenSSH public key for root and the lab user')
    .option('--boot-timeout <seconds>', 'how long to wait for sshd and systemd on each host (default 60)')
    .action(async (raw: Record<string, unknown>) => {
      const opts = parseOptions(upOptionsSchema, raw);
      const name = validateLabName(opts.name ?? DEFAULT_LAB_NAME);
      const inventoryDir = path.resolve(io.cwd, opts.inventory ?? path.join('inventory', name));
      let authorizedKey: string | undefined;
      if (opts.authorizedKey !== undefined) {
        const file = path.resolve(io.cwd, opts.authorizedKey);
        const text = await readFile(file, 'utf8').catch(() => {
          throw new KprovError('usage', `cannot read --authorized-key ${opts.authorizedKey}`);
        });
        const key = publicKeySchema.safeParse(text);
        if (!key.success) throw new KprovError('usage', `--authorized-key ${opts.authorizedKey} is not an OpenSSH public key`, { location: { file } });
        authorizedKey = key.data;
      }
      const result = await labUp({
        name,
        inventoryDir,
        env: io.env,
        onEvent: (e) => {
          const line = describeEvent(e);
          if (line) io.out(line);
        },
        ...(opts.hosts !== undefined ? { hosts: opts.hosts } : {}),
        ...(opts.mirrorRoot !== undefined ? { mirrorRoot: path.resolve(io.cwd, opts.mirrorRoot) } : {}),
        ...(authorizedKey !== undefined ? { authorizedKey } : {}),
        ...(opts.bootTimeout !== undefined ? { bootTimeoutMs: opts.bootTimeout } : {}),
      });
      const shown = path.relative(io.cwd, result.inventoryDir) || '.';
      const first = result.hosts[0]?.address ?? '';
      const last = result.hosts[result.hosts.length - 1]?.address ?? '';
      io.out(
        `Lab ${result.name} is up in ${seconds(result.timings.totalMs)}: ${result.hosts.length} host(s) ${first}${last !== first ? `–${last}` : ''}, mirror ${result.mirrorUrl}, registry ${result.registryUrl}`,
      );
      io.out(`Inventory: ${shown} (root's bootstrap password is in ${path.relative(io.cwd, result.passwordFile)})`);
      io.out(`Next: kprov apply cluster -i ${shown}    Stop: kprov lab down --name ${result.name}`);
    });

  lab
    .command('status')
    .description('show labs, their hosts and whether they run')
    .option('--name <name>', 'only this lab')
    .option('--json', 'print JSON')
    .action(async (raw: Record<string, unknown>) => {
      const opts = parseOptions(nameOptionsSchema, raw);
      const statuses = opts.name !== undefined ? [await labStatus(validateLabName(opts.name), io.env)] : await allLabStatuses(io.env);
      if (opts.json) {
        io.out(JSON.stringify(statuses, null, 2));
        return;
      }
      if (statuses.length === 0) {
        io.out('No labs. Start one with: kprov lab up');
        return;
      }
      for (const s of statuses) io.out(formatStatus(s, io.cwd).join('\n'));
    });

  lab
    .command('exec')
    .description('run a command inside a lab host (as root, like a console login)')
    .argument('<host>', 'host name (node1) or address')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--name <name>', `lab name (default ${DEFAULT_LAB_NAME})`)
    .usage('[--name NAME] HOST -- COMMAND [ARG…]')
    .action(async (host: string, command: string[], raw: Record<string, unknown>, cmd: Command) => {
      const opts = parseOptions(nameOptionsSchema, raw);
      const argv = await labExecArgv(opts.name ?? DEFAULT_LAB_NAME, host, command, io.env);
      setExitCode(cmd, await runForCli(argv, io));
    });

  lab
    .command('down')
    .description('stop a lab\'s hosts, mirror and registry and remove everything it made (safe to repeat)')
    .option('--name <name>', `lab name (default ${DEFAULT_LAB_NAME})`)
    .action(async (raw: Record<string, unknown>) => {
      const opts = parseOptions(nameOptionsSchema, raw);
      const name = opts.name ?? DEFAULT_LAB_NAME;
      const result = await labDown(name, {
        env: io.env,
        onEvent: (e) => {
          const line = describeEvent(e);
          if (line) io.out(line);
        },
      });
      io.out(result.existed ? `Lab ${name} removed.` : `No lab named ${name}: nothing to remove.`);
    });
}

/** On a terminal the command gets it (a shell works); otherwise its output goes through io. */
async function runForCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [command, ...args] = argv;
  const child = spawn(command!, args, { stdio: io.isTTY ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (err) => reject(new KprovError('lab', `cannot run ${command}: ${err.message}`)));
    child.on('close', (c, signal) => resolve(c ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)));
  });
  if (stdout !== '') io.out(stdout);
  if (stderr !== '') io.err(stderr);
  return code;
}
