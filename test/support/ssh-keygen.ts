/** Real OpenSSH keys and answers from ssh-keygen, to check kprov's SSH code against OpenSSH. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface TestKey {
  privatePath: string;
  publicLine: string;
  blob: Buffer;
}

/** A new unencrypted key pair `dir/name` (+ `.pub`) made by ssh-keygen. */
export function sshKeygen(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa'): TestKey {
  const privatePath = path.join(dir, name);
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  execFileSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', `test-${name}`, '-f', privatePath]);
  const publicLine = readFileSync(`${privatePath}.pub`, 'utf8').trim();
  return { privatePath, publicLine, blob: Buffer.from(publicLine.split(' ')[1]!, 'base64') };
}

/** ssh-keygen's stdout for these arguments; throws on a non-zero exit. */
export function keygen(args: string[]): string {
  return execFileSync('ssh-keygen', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
