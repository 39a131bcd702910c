/**
 * Checks for every flag or config field that names a file: it exists, is readable, and holds what
 * the component will use it as (PEM certificates, a key matching its certificate, a directory).
 * Failures name the flag and the file.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { configError } from './errors.js';

/** Go's wording for the usual errno values, as `open PATH: REASON`. */
function describeFsError(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'no such file or directory'
      : code === 'EACCES'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'ENOTDIR'
            ? 'not a directory'
            : String((err as Error).message);
  return `open ${path}: ${reason}`;
}

/** Where a file was named: `--tls-cert-file` or `kubeconfig /etc/x.conf: users[0].client-certificate`. */
export type Origin = string;

export function readFileFor(origin: Origin, path: string): Buffer {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    accessSync(path, constants.R_OK);
    return readFileSync(path);
  } catch (err) {
    throw configError(`${origin}: ${describeFsError(path, err)}`);
  }
}

export function requireDirectory(origin: Origin, path: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw configError(`${origin}: ${describeFsError(path, err)}`);
  }
  if (!isDir) throw configError(`${origin}: ${path} is not a directory`);
}

interface PemBlock {
  type: string;
  der: Buffer;
  text: string;
}

function pemBlocks(data: Buffer): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (const m of data.toString('latin1').matchAll(re)) {
    out.push({ type: m[1]!, der: Buffer.from(m[2]!.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'), text: m[0] });
  }
  return out;
}

/** Every certificate in a PEM bundle (a CA file may hold several); at least one. */
export function parseCertificates(origin: Origin, label: string, data: Buffer): X509Certificate[] {
  const blocks = pemBlocks(data).filter((b) => b.type === 'CERTIFICATE');
  if (blocks.length === 0) throw configError(`${origin}: ${label}: data does not contain any valid RSA or ECDSA certificates`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b.text);
    } catch (err) {
      throw configError(`${origin}: ${label}: failed to parse certificate: ${(err as Error).message}`);
    }
  });
}

export function parsePrivateKey(origin: Origin, label: string, data: Buffer): KeyObject {
  const block = pemBlocks(data).find((b) => /PRIVATE KEY$/.test(b.type));
  if (!block) throw configError(`${origin}: ${label}: data does not contain a valid RSA or ECDSA private key`);
  try {
    return createPrivateKey(block.text);
  } catch (err) {
    throw configError(`${origin}: ${label}: failed to parse private key: ${(err as Error).message}`);
  }
}

export function loadCertificates(origin: Origin, path: string): X509Certificate[] {
  return parseCertificates(origin, path, readFileFor(origin, path));
}

export interface KeyPair {
  certPem: Buffer;
  keyPem: Buffer;
  cert: X509Certificate;
}

/** A certificate and its key; the key must be the certificate's. */
export function checkKeyPair(
  certOrigin: Origin,
  certLabel: string,
  certPem: Buffer,
  keyOrigin: Origin,
  keyLabel: string,
  keyPem: Buffer,
): KeyPair {
  const cert = parseCertificates(certOrigin, certLabel, certPem)[0]!;
  const key = parsePrivateKey(keyOrigin, keyLabel, keyPem);
  if (!cert.checkPrivateKey(key)) {
    throw configError(`${keyOrigin}: ${keyLabel}: private key does not match public key in ${certOrigin} ${certLabel}`);
  }
  return { certPem, keyPem, cert };
}

export function loadKeyPair(certFlag: string, certPath: string, keyFlag: string, keyPath: string): KeyPair {
  return checkKeyPair(certFlag, certPath, readFileFor(certFlag, certPath), keyFlag, keyPath, readFileFor(keyFlag, keyPath));
}

export function loadPrivateKey(origin: Origin, path: string): KeyObject {
  return parsePrivateKey(origin, path, readFileFor(origin, path));
}

/** A service-account verification key file: PEM public keys, private keys or certificates. */
export function loadVerificationKeys(origin: Origin, path: string): KeyObject[] {
  const blocks = pemBlocks(readFileFor(origin, path));
  const keys: KeyObject[] = [];
  for (const b of blocks) {
    try {
      if (b.type === 'CERTIFICATE') keys.push(new X509Certificate(b.text).publicKey);
      else if (/PUBLIC KEY$/.test(b.type) || /PRIVATE KEY$/.test(b.type)) keys.push(createPublicKey(b.text));
    } catch (err) {
      throw configError(`${origin}: ${path}: failed to parse ${b.type}: ${(err as Error).message}`);
    }
  }
  if (keys.length === 0) throw configError(`${origin}: ${path}: data does not contain any valid RSA or ECDSA public keys`);
  return keys;
}

/** Subject fields as kube reads them from a client certificate: CN → user, O → groups. */
export function subjectIdentity(cert: X509Certificate): { user: string; groups: string[] } {
  const user: string[] = [];
  const groups: string[] = [];
  for (const line of cert.subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'CN') user.push(value);
    if (key === 'O') groups.push(value);
  }
  return { user: user[0] ?? '', groups };
}
