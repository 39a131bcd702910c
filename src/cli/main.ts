import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, formatError, isKprovError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { processIO, type CliIO } from './io.js';
import { ansibleOptionHint } from './ansible-habits.js';
import { exitCodeOf } from './exit-code.js';

/** Each command registers itself; a command's action throws KprovError or returns an exit code. */
export type CommandRegistrar = (program: Command, io: CliIO) => void;

/**
 * The commands, loaded on demand: a command's module brings its whole graph (SSH, X.509, the
 * engine…), so `kprov inventory show` loads the inventory code alone and `--version` nothing.
 * Help and unknown commands load them all. `plan` lives with `apply`.
 */
const COMMANDS: Readonly<Record<string, () => Promise<CommandRegistrar>>> = {
  init: async () => (await import('./init.js')).registerInit,
  inventory: async () => (await import('./inventory.js')).registerInventory,
  apply: async () => (await import('./apply.js')).registerApply,
  download: async () => (await import('./download.js')).registerDownload,
  certs: async () => (await import('./certs.js')).registerCerts,
  kubeconfig: async () => (await import('./kubeconfig.js')).registerKubeconfig,
  lab: async () => (await import('./lab.js')).registerLab,
  etcdctl: async () => (await import('./etcdctl.js')).registerEtcdctl,
  etcd: async () => (await import('./etcd.js')).registerEtcd,
};
const ALIASES: Readonly<Record<string, string>> = { plan: 'apply' };

/** The registrars `argv` needs: its command's alone when it names one, else all of them (help). */
async function registrarsFor(argv: readonly string[]): Promise<CommandRegistrar[]> {
  const first = argv.find((a) => !a.startsWith('-'));
  const name = first === undefined ? undefined : (ALIASES[first] ?? first);
  const one = name === undefined ? undefined : COMMANDS[name];
  if (one) return [await one()];
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) return [];
  return Promise.all(Object.values(COMMANDS).map((load) => load()));
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(io: CliIO, registrars: readonly CommandRegistrar[]): Command {
  const program = new Command('kprov')
    .description('Provision Kubernetes v1.13 clusters over SSH from Kubespray-style inventories')
    .version(packageVersion(), '-V, --version', 'print the kprov version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();
  for (const register of registrars) register(program, io);
  // Subcommands inherit output handling and exit behaviour so usage errors exit 2, not 1.
  for (const cmd of program.commands) applyCommon(cmd, io);
  return program;
}

function applyCommon(cmd: Command, io: CliIO): void {
  cmd
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // An Ansible option kprov lacks gets what to use instead under commander's message.
      outputError: (s, write) => {
        const hint = ansibleOptionHint(s);
        write(hint ? `${s.trimEnd()}\n  kprov: ${hint}\n` : s);
      },
    })
    .exitOverride();
  cmd.showHelpAfterError('(run with --help for usage)');
  for (const sub of cmd.commands) applyCommon(sub, io);
}

/** Runs the CLI and returns the process exit code; never throws. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const program = buildProgram(io, await registrarsFor(argv));
  let exitCode: number = ExitCode.ok;
  program.hook('postAction', (_this, action) => {
    const code = exitCodeOf(action);
    if (code !== undefined) exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.badInput;
    }
    if (isKprovError(err)) {
      io.err(formatError(err, io.cwd));
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.err(`error: internal: ${message}`);
    if (io.env['KPROV_DEBUG'] && err instanceof Error && err.stack) io.err(err.stack);
    return ExitCode.hostFailed;
  }
}

