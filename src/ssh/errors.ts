/** Errors from commands run on hosts. */
import { KprovError } from '../errors.js';
import type { ExecResult } from './types.js';

/** How many trailing output lines a failure message quotes. */
const TAIL_LINES = 8;

/** The last lines of a command's output, trimmed, for a one-glance failure message. */
export function lastLines(text: string, count = TAIL_LINES): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-count).join('\n');
}

export interface HostCommandFailure {
  host: string;
  /** The command line as sent (quoted), so it can be pasted into a shell on the host. */
  command: string;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A remote command exited non-zero. A KprovError('host') so the CLI prints it in a few lines and
 * exits 1; `code` is taken by KprovError's error code, so the exit status is `status` (as in
 * child_process) and `result` is the whole ExecResult.
 */
export class HostCommandError extends KprovError {
  override readonly host: string;
  readonly command: string;
  /** Exit status (128 + signal number when killed by a signal). */
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly result: ExecResult;

  constructor(failure: HostCommandFailure) {
    const output = lastLines(failure.stderr.trim() !== '' ? failure.stderr : failure.stdout);
    const message = `command failed with exit code ${failure.code}: ${failure.command}${output ? `\n${output}` : ''}`;
    super('host', message, { host: failure.host });
    this.name = 'HostCommandError';
    this.host = failure.host;
    this.command = failure.command;
    this.status = failure.code;
    this.stdout = failure.stdout;
    this.stderr = failure.stderr;
    this.result = { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

/**
 * The host's connection is gone and could not be opened again (the one reconnect failed, or the
 * reconnected one dropped too): nothing more can be done on the host in this run, so callers
 * that retry (health waits) stop at once instead of polling a host that cannot answer.
 */
export class HostLostError extends KprovError {
  constructor(host: string, message: string, cause?: unknown) {
    super('ssh', message, { host, ...(cause === undefined ? {} : { cause }) });
    this.name = 'HostLostError';
  }
}
