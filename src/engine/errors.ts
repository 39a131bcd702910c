/**
 * How failures on hosts are described: which command, its exit code and the last lines it
 * printed, so a user can act without rerunning anything with more verbosity.
 */
import { z } from 'zod';
import { formatLocation, isKprovError, KprovError, type SourceLocation } from '../errors.js';
import { shellQuote } from '../ssh/quote.js';

/**
 * A step on a host failed for a reason other than a command's exit status (a unit that did not
 * become healthy, say), with the output that explains it (its status and journal lines).
 */
export class HostStepError extends KprovError {
  readonly output: string[];
  constructor(host: string, message: string, output: readonly string[], hint?: string) {
    super('host', message, { host, ...(hint ? { hint } : {}) });
    this.name = 'HostStepError';
    this.output = [...output];
  }
}

/** The engine's plain-data description of a failure, as events and renderers carry it. */
export interface FailureInfo {
  message: string;
  hint?: string;
  location?: SourceLocation;
  /** The failing command, quoted as a shell would show it. */
  command?: string;
  exitCode?: number;
  /** The last lines the command printed (stderr when it printed any, else stdout). */
  output?: string[];
}

/** How many trailing output lines a failure keeps. */
export const OUTPUT_TAIL_LINES = 12;

// Any error with these fields is a failed command, whichever layer threw it: the SSH layer's
// HostCommandError (exit status in `status`, since KprovError's `code` is its error code),
// execa's errors (`exitCode`), this module's HostCommandError and test fakes (`code`).
const exitStatus = z.number().int();
const output = z.union([z.string(), z.instanceof(Buffer)]).optional();
const commandErrorShape = z.object({
  command: z.union([z.string(), z.array(z.string())]),
  status: z.unknown(),
  exitCode: z.unknown(),
  code: z.unknown(),
  stdout: output,
  stderr: output,
});

export function describeFailure(err: unknown): FailureInfo {
  const command = commandErrorShape.safeParse(err);
  if (command.success) {
    const c = command.data;
    const exitCode = [c.status, c.exitCode, c.code].map((v) => exitStatus.safeParse(v)).find((r) => r.success)?.data;
    const text = typeof c.command === 'string' ? c.command : shellJoin(c.command);
    const stderr = c.stderr?.toString() ?? '';
    const stdout = c.stdout?.toString() ?? '';
    const tail = tailLines(stderr.trim() !== '' ? stderr : stdout, OUTPUT_TAIL_LINES);
    return {
      message: `command \`${text}\` ${exitCode === undefined ? 'failed' : `exited with ${exitCode}`}`,
      command: text,
      ...(exitCode === undefined ? {} : { exitCode }),
      ...(tail.length > 0 ? { output: tail } : {}),
    };
  }
  if (err instanceof HostStepError) {
    return {
      message: err.message,
      ...(err.hint ? { hint: err.hint } : {}),
      ...(err.output.length > 0 ? { output: err.output } : {}),
    };
  }
  if (isKprovError(err)) {
    return {
      message: err.message,
      ...(err.hint ? { hint: err.hint } : {}),
      ...(err.location ? { location: err.location } : {}),
    };
  }
  if (err instanceof Error) return { message: err.message };
  return { message: String(err) };
}

/** Multi-line text for a failure: the first line names host and step, then command output. */
export function formatFailure(host: string, step: string, info: FailureInfo): string {
  const where = info.location ? `${formatLocation(info.location)}: ` : '';
  const lines = [`${host}: ${step}: ${where}${info.message}`];
  if (info.hint) lines.push(`  ${info.hint}`);
  if (info.output && info.output.length > 0) {
    lines.push('  last output:');
    for (const l of info.output) lines.push(`  | ${l}`);
  }
  return lines.join('\n');
}

export function tailLines(text: string, count: number): string[] {
  const lines = text.replace(/\s+$/, '').split('\n');
  if (lines.length === 1 && lines[0] === '') return [];
  return lines.slice(-count).map((l) => l.replace(/\r$/, ''));
}

/** argv as a user could paste it into a POSIX shell (for messages only, never for execution). */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((a) => (a === '' ? "''" : shellQuote(a.replace(/\0/g, '\\0')))).join(' ');
}

/** Connecting to a host failed: the host is unreachable for the rest of the run. */
export class UnreachableError extends Error {
  readonly info: FailureInfo;
  constructor(host: string, cause: unknown) {
    const info = describeFailure(cause);
    super(`${host} is unreachable: ${info.message}`, { cause });
    this.name = 'UnreachableError';
    this.info = info;
  }
}
