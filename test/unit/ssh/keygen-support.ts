/** Real OpenSSH keys for the SSH unit tests, made by ssh-keygen in a temp directory. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made: string[] = [];
// Each test file runs in its own process: remove its temp directories when it ends.
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'kprov-ssh-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export interface TestKey {
  privatePath: string;
  publicLine: string;
  blob: Buffer;
}

export function sshKeygen(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa'): TestKey {
  const privatePath = path.join(dir, name);
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  execFileSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', `test-${name}`, '-f', privatePath]);
  const publicLine = readFileSync(`${privatePath}.pub`, 'utf8').trim();
  return { privatePath, publicLine, blob: Buffer.from(publicLine.split(' ')[1]!, 'base64') };
}

export function keygen(args: string[]): string {
  return execFileSync('ssh-keygen', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
