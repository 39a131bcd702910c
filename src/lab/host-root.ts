/**
 * A host's root file system: an overlay whose lower layer is the shared base image and whose
 * upper layer holds what makes this host itself (name, machine ID, SSH host keys, passwords).
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../errors.js';
import { LAB_USER } from './base-image.js';
import { run } from './run.js';

export interface HostRootPaths {
  upper: string;
  work: string;
  root: string;
}

export function hostRootPaths(dir: string): HostRootPaths {
  return { upper: path.join(dir, 'upper'), work: path.join(dir, 'work'), root: path.join(dir, 'root') };
}

/** Overlay options are comma- and colon-separated, so such paths cannot be passed. */
function checkOverlayPath(p: string): string {
  if (/[,:\\]/.test(p)) throw new KprovError('lab', `path ${p} cannot be used in an overlay mount (contains , : or \\)`);
  return p;
}

export async function mountHostRoot(baseImage: string, paths: HostRootPaths): Promise<void> {
  await mkdir(paths.upper, { recursive: true });
  await mkdir(paths.work, { recursive: true });
  await mkdir(paths.root, { recursive: true });
  const options = `lowerdir=${checkOverlayPath(baseImage)},upperdir=${checkOverlayPath(paths.upper)},workdir=${checkOverlayPath(paths.work)}`;
  await run('mount', ['-t', 'overlay', 'overlay', '-o', options, paths.root]);
}

/** SHA-512 crypt hash of a password, computed by openssl with the password on stdin only. */
export async function hashPassword(password: string): Promise<string> {
  const r = await run('openssl', ['passwd', '-6', '-stdin'], { input: `${password}\n` });
  const hash = r.stdout.trim();
  if (!hash.startsWith('$6$')) throw new KprovError('lab', 'openssl passwd returned no SHA-512 hash');
  return hash;
}

/** Replaces the password field of the named users in shadow(5) text. */
export function setShadowPasswords(shadow: string, users: readonly string[], hash: string): string {
  const seen = new Set<string>();
  const lines = shadow.split('\n').map((line) => {
    const fields = line.split(':');
    if (fields.length < 2 || !users.includes(fields[0]!)) return line;
    seen.add(fields[0]!);
    fields[1] = hash;
    return fields.join(':');
  });
  const missing = users.filter((u) => !seen.has(u));
  if (missing.length > 0) throw new KprovError('lab', `base image has no shadow entry for ${missing.join(', ')}`);
  return lines.join('\n');
}

export interface HostIdentity {
  hostName: string;
  address: string;
  /** crypt(3) hash set for root and the lab user. */
  passwordHash: string;
  /** An OpenSSH public key line to authorize for root and the lab user. */
  authorizedKey?: string;
}

/** Writes this host's own files into its (mounted) root. */
export async function personalizeHostRoot(root: string, id: HostIdentity): Promise<void> {
  const etc = path.join(root, 'etc');
  await writeFile(path.join(etc, 'hostname'), `${id.hostName}\n`);
  await writeFile(
    path.join(etc, 'hosts'),
    `127.0.0.1\tlocalhost\n${id.address}\t${id.hostName}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  );
  await writeFile(path.join(etc, 'machine-id'), `${randomBytes(16).toString('hex')}\n`, { mode: 0o444 });
  // Fresh host keys: ed25519 and ECDSA, the types the base image's sshd is configured for.
  for (const type of ['ed25519', 'ecdsa']) {
    await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `root@${id.hostName}`, '-f', path.join(etc, 'ssh', `ssh_host_${type}_key`)]);
  }
  const shadowFile = path.join(etc, 'shadow');
  // writeFile on the existing file keeps its mode and group (shadow, 0640).
  await writeFile(shadowFile, setShadowPasswords(await readFile(shadowFile, 'utf8'), ['root', LAB_USER], id.passwordHash));
  if (id.authorizedKey !== undefined) {
    await authorize(root, '/root', 0, 0, id.authorizedKey);
    const { uid, gid } = await userIds(root, LAB_USER);
    await authorize(root, `/home/${LAB_USER}`, uid, gid, id.authorizedKey);
  }
}

async function authorize(root: string, home: string, uid: number, gid: number, key: string): Promise<void> {
  const sshDir = path.join(root, home, '.ssh');
  await mkdir(sshDir, { recursive: true, mode: 0o700 });
  await chmod(sshDir, 0o700);
  await chown(sshDir, uid, gid);
  const file = path.join(sshDir, 'authorized_keys');
  await writeFile(file, `${key.trim()}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  await chown(file, uid, gid);
}

async function userIds(root: string, user: string): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile(path.join(root, 'etc/passwd'), 'utf8');
  const fields = passwd.split('\n').find((l) => l.startsWith(`${user}:`))?.split(':');
  if (!fields || fields.length < 4) throw new KprovError('lab', `base image has no user ${user}`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
