/**
 * A command's action reports a non-zero exit code without throwing (a run that failed on a host
 * is not an error of the CLI): the action stashes it on its Command, and main reads it back.
 */
import type { Command } from 'commander';

type WithExitCode = Command & { _kprovExit?: number };

export function setExitCode(cmd: Command, code: number): void {
  (cmd as WithExitCode)._kprovExit = code;
}

export function exitCodeOf(cmd: Command): number | undefined {
  return (cmd as WithExitCode)._kprovExit;
}
