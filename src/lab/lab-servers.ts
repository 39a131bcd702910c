/** Starts the lab's servers (artifact mirror, registry) as detached processes inside the lab namespace. */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { KprovError } from '../errors.js';
import { labScript } from './paths.js';
import { processRef, type ProcessRef } from './processes.js';

export interface LabServerOptions {
  /** For messages: "the artifact mirror". */
  what: string;
  /** The server's whole environment (default: kprov's). */
  env?: NodeJS.ProcessEnv;
}

/** Runs `command` under `ip netns exec`, detached, its output appended to `logFile`. */
export async function startLabServer(namespace: string, command: readonly string[], logFile: string, options: LabServerOptions): Promise<ProcessRef> {
  const log = openSync(logFile, 'a', 0o600);
  try {
    // `ip netns exec` execs the command in place, so the PID is the server's own.
    const child = spawn('ip', ['netns', 'exec', namespace, ...command], {
      detached: true,
      stdio: ['ignore', log, log],
      ...(options.env !== undefined ? { env: options.env } : {}),
    });
    const pid = child.pid;
    if (pid === undefined) throw new KprovError('lab', `cannot start ${options.what}`);
    child.unref();
    const ref = await processRef(pid);
    if (!ref) throw new KprovError('lab', `${options.what} exited at once`, { hint: `see ${logFile}` });
    return ref;
  } finally {
    closeSync(log);
  }
}

export function startMirror(namespace: string, root: string, listen: string, logFile: string): Promise<ProcessRef> {
  return startLabServer(namespace, [process.execPath, labScript('mirror-server'), '--root', root, '--listen', listen], logFile, { what: 'the artifact mirror' });
}

/** The last lines of a server's log, for the error when it does not start. */
export async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-3).join(' | ');
}
