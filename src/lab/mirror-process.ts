/** Starts the artifact mirror as a detached process inside the lab namespace. */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { KprovError } from '../errors.js';
import { labScript } from './paths.js';
import { processRef, type ProcessRef } from './processes.js';

export async function startMirror(namespace: string, root: string, listen: string, logFile: string): Promise<ProcessRef> {
  const log = openSync(logFile, 'a', 0o600);
  try {
    // `ip netns exec` execs the command in place, so the PID is the mirror's own.
    const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, labScript('mirror-server'), '--root', root, '--listen', listen], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    const pid = child.pid;
    if (pid === undefined) throw new KprovError('lab', 'cannot start the artifact mirror');
    child.unref();
    const ref = await processRef(pid);
    if (!ref) throw new KprovError('lab', 'the artifact mirror exited at once', { hint: `see ${logFile}` });
    return ref;
  } finally {
    closeSync(log);
  }
}

export async function mirrorLogTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-3).join(' | ');
}
