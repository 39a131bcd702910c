/**
 * An exclusive lock the kernel releases by itself when its holder dies: flock(1) takes the lock
 * and then waits on a pipe from this process. Node has no flock(2), and lock files with PIDs in
 * them go stale when a builder is killed.
 */
import { spawn } from 'node:child_process';
import { KprovError } from '../errors.js';

export async function withFileLock<T>(lockFile: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const holder = spawn(
    'flock',
    ['--exclusive', '--timeout', String(seconds), lockFile, '-c', 'echo locked; exec cat >/dev/null'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number>((resolve) => {
    holder.on('error', () => resolve(127));
    holder.on('exit', (code) => resolve(code ?? 1));
  });
  const locked = await new Promise<boolean>((resolve) => {
    let seen = '';
    holder.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('locked')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  if (!locked) {
    const code = await exited;
    throw new KprovError('lab', `could not lock ${lockFile} within ${seconds} s (flock exited with ${code})`, {
      hint: 'another kprov is building the same thing; wait for it or check `ps` for a stuck builder',
    });
  }
  try {
    return await fn();
  } finally {
    holder.stdin.end();
    await exited;
  }
}
