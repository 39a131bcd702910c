/**
 * The process around every stand-in: flags, `--version`, `--help`, the final error line and exit
 * code, SIGTERM. Components only implement `start`.
 */
import { writeSync } from 'node:fs';
import { FlagParseError, Flags, parseArgs } from './flags.js';
import { type ComponentName, flagSetSpec } from './flagspec.js';
import { klog, type Logger } from './klog.js';
import { StandinError, messageOf } from './errors.js';
import { kubeVersion, versionInfo } from './version.js';

export interface RunContext {
  readonly log: Logger;
  /** Ends the process the way klog.Fatal does, for failures after start-up. */
  fatal(message: string): never;
}

export interface Running {
  stop(): Promise<void>;
}

export interface Component {
  readonly name: ComponentName;
  /** klog source name for this component's lines, e.g. `server.go`. */
  readonly source: string;
  /** Validates everything, starts serving, and resolves once running. Throws StandinError. */
  start(flags: Flags, ctx: RunContext): Promise<Running>;
}

const STOP_BUDGET_MS = 5000;

function usage(name: string, accepted: Iterable<string>): string {
  const lines = [...accepted].sort().map((f) => `      --${f}`);
  return `Usage:\n  ${name} [flags]\n\nFlags:\n${lines.join('\n')}\n`;
}

function goVersionStruct(): string {
  const fields = Object.entries(versionInfo()).map(([k, v]) => `${k[0]!.toUpperCase()}${k.slice(1)}:"${v}"`);
  return `version.Info{${fields.join(', ')}}`;
}

/** Runs `component` as this process and never returns normally. */
export function runComponent(component: Component): void {
  const log = klog(component.source);
  // One line per error, whatever the underlying library put in its message.
  const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
  const die = (code: number, text: string): never => {
    try {
      // Synchronous, so the line is out before the process ends.
      writeSync(2, text);
    } catch {
      // stderr closed: nothing left to tell.
    }
    return process.exit(code);
  };
  const ctx: RunContext = {
    log,
    fatal: (message) => die(255, log.fatalLine(oneLine(message))),
  };

  const spec = flagSetSpec(component.name, kubeVersion);
  let flags: Flags;
  try {
    flags = new Flags(parseArgs(spec, process.argv.slice(2)));
  } catch (err) {
    if (err instanceof FlagParseError) {
      // cobra prints `Error:` and the usage; the v1.13 main() then repeats the error as its last line.
      die(1, `Error: ${err.message}\nUsage:\n  ${component.name} [flags]\n\nUse "${component.name} --help" for the accepted flags.\nerror: ${err.message}\n`);
    }
    throw err;
  }

  const version = flags.string('version', 'false');
  if (version === 'raw') {
    process.stdout.write(`${goVersionStruct()}\n`);
    process.exit(0);
  }
  if (flags.bool('version', false)) {
    process.stdout.write(`Kubernetes ${kubeVersion}\n`);
    process.exit(0);
  }
  if (flags.bool('help', false)) {
    process.stdout.write(usage(component.name, spec.accepted));
    process.exit(0);
  }
  if (flags.args.length > 0) {
    if (component.name === 'kubelet') ctx.fatal(`unknown command: ${flags.args[0]}`);
    log.warning(`ignoring arguments that are not flags: ${flags.args.join(' ')}`);
  }

  log.info(`Version: ${kubeVersion} (stand-in)`);
  let running: Running | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`Received signal ${signal}, shutting down`);
    const timer = setTimeout(() => process.exit(0), STOP_BUDGET_MS);
    timer.unref();
    void (running?.stop() ?? Promise.resolve())
      .catch((err: unknown) => log.error(`while stopping: ${messageOf(err)}`))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('terminated'));
  process.on('SIGINT', () => shutdown('interrupt'));

  component.start(flags, ctx).then(
    (r) => {
      running = r;
      if (stopping) void r.stop().finally(() => process.exit(0));
    },
    (err: unknown) => {
      if (err instanceof StandinError && err.kind === 'config') die(1, `Error: ${oneLine(err.message)}\n`);
      ctx.fatal(messageOf(err));
    },
  );
}
