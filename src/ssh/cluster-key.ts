/**
 * The cluster's SSH key pair in `<inventory>/credentials/`: id_ed25519 (default) or RSA 4096 id_rsa.
 * Created once, private key 0600 in OpenSSH's own format (ssh2 writes it; `ssh-keygen -y` reads it).
 */
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
// ssh2 is CommonJS: Node's ESM loader sees only its default export.
import ssh2 from 'ssh2';
import { KprovError } from '../errors.js';
import { blobOfPublicKeyLine, sha256Fingerprint } from './fingerprint.js';
import type { ClusterKeyType } from './host-config.js';

export function credentialsDir(inventoryDir: string): string {
  return path.join(inventoryDir, 'credentials');
}

export function clusterKeyPath(inventoryDir: string, type: ClusterKeyType): string {
  return path.join(credentialsDir(inventoryDir), type === 'rsa' ? 'id_rsa' : 'id_ed25519');
}

/**
 * A loaded cluster key. The private key sits in a #private field so that logging or serializing
 * this object can never reveal it.
 */
export class ClusterKey {
  readonly #privateKey: string;

  constructor(
    readonly type: ClusterKeyType,
    readonly privateKeyPath: string,
    /** `ssh-ed25519 AAAA… comment`, as in authorized_keys. */
    readonly publicKey: string,
    readonly fingerprint: string,
    privateKey: string,
  ) {
    this.#privateKey = privateKey;
  }

  get publicKeyPath(): string {
    return `${this.privateKeyPath}.pub`;
  }

  /** `type base64` without the comment: how the key is recognised in an authorized_keys line. */
  get publicKeyBody(): string {
    return this.publicKey.split(/\s+/).slice(0, 2).join(' ');
  }

  /** For ssh2's authentication only. */
  privateKeyText(): string {
    return this.#privateKey;
  }
}

/** Loads the cluster key, or undefined when it has not been created yet. */
export async function loadClusterKey(inventoryDir: string, type: ClusterKeyType): Promise<ClusterKey | undefined> {
  const file = clusterKeyPath(inventoryDir, type);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KprovError('io', `cannot read the cluster SSH key ${file}: ${(err as Error).message}`);
  }
  // OpenSSH refuses private keys others can read; keep ours usable by plain `ssh -i`.
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error || !parsed.isPrivateKey()) {
    throw new KprovError('io', `${file} is not an unencrypted OpenSSH private key`, {
      hint: 'move it away and let kprov create a new cluster key',
    });
  }
  const blob = parsed.getPublicSSH();
  const comment = parsed.comment || `kprov@${path.basename(path.resolve(inventoryDir))}`;
  const publicKey = `${parsed.type} ${blob.toString('base64')} ${comment}`;
  await ensurePublicFile(`${file}.pub`, publicKey);
  return new ClusterKey(type, file, publicKey, sha256Fingerprint(blob), text);
}

/** The .pub file is derived from the private key; rewrite it when missing or different. */
async function ensurePublicFile(file: string, publicKey: string): Promise<void> {
  let current: string | undefined;
  try {
    current = await readFile(file, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== undefined && current.trim().split(/\s+/).slice(0, 2).join(' ') === publicKey.split(' ').slice(0, 2).join(' ')) {
    return;
  }
  await writeFile(file, `${publicKey}\n`, { mode: 0o644 });
}

export interface EnsuredKey {
  key: ClusterKey;
  created: boolean;
}

/**
 * Loads the cluster key, creating it first when absent. The new private key is written to a temp
 * file and hard-linked into place, so a concurrent creator's key is never overwritten.
 */
export async function ensureClusterKey(inventoryDir: string, type: ClusterKeyType): Promise<EnsuredKey> {
  const existing = await loadClusterKey(inventoryDir, type);
  if (existing) return { key: existing, created: false };
  const dir = credentialsDir(inventoryDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const comment = `kprov@${path.basename(path.resolve(inventoryDir))}`;
  const pair = await generate(type, comment);
  const file = clusterKeyPath(inventoryDir, type);
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, pair.private, { mode: 0o600, flag: 'wx' });
  let created = true;
  try {
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    created = false;
  } finally {
    await rm(temp, { force: true });
  }
  const key = await loadClusterKey(inventoryDir, type);
  if (!key) throw new KprovError('io', `the cluster SSH key ${file} vanished while it was being created`);
  blobOfPublicKeyLine(key.publicKey); // sanity: the derived public line parses back
  return { key, created };
}

/**
 * ssh2 1.17 drops a leading zero byte of an ed25519 public key, so about one ed25519 pair in 256
 * is malformed (neither ssh2 nor OpenSSH can read it back; mscdex/ssh2#1390, #1513). Every pair
 * is therefore checked - both halves parse, describe the same key, and sign/verify - and a bad
 * one is simply generated again.
 */
const GENERATE_ATTEMPTS = 16;

async function generate(type: ClusterKeyType, comment: string): Promise<{ private: string; public: string }> {
  for (let attempt = 0; attempt < GENERATE_ATTEMPTS; attempt++) {
    const pair = await generateOnce(type, comment);
    if (isSoundPair(pair)) return pair;
  }
  throw new KprovError('internal', `could not generate a valid ${type} key pair in ${GENERATE_ATTEMPTS} attempts`);
}

export function isSoundPair(pair: { private: string; public: string }): boolean {
  const priv = ssh2.utils.parseKey(pair.private);
  const pub = ssh2.utils.parseKey(pair.public);
  if (priv instanceof Error || pub instanceof Error || !priv.isPrivateKey()) return false;
  if (!priv.getPublicSSH().equals(pub.getPublicSSH())) return false;
  const probe = Buffer.from('kprov cluster key check');
  return pub.verify(probe, priv.sign(probe)) === true;
}

function generateOnce(type: ClusterKeyType, comment: string): Promise<{ private: string; public: string }> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, pair: { private: string; public: string }) => (err ? reject(err) : resolve(pair));
    if (type === 'rsa') ssh2.utils.generateKeyPair('rsa', { bits: 4096, comment }, done);
    else ssh2.utils.generateKeyPair('ed25519', { comment }, done);
  });
}
