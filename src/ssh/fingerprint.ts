/** SSH public key blobs (the wire format in known_hosts and authorized_keys) and their fingerprints. */
import { createHash } from 'node:crypto';

/** The key type named at the start of a public key blob, e.g. "ssh-ed25519". */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) throw new Error('public key blob too short');
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) throw new Error('malformed public key blob');
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the blob's sha256. */
export function sha256Fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The blob inside an OpenSSH public key line (`type base64 [comment]`). */
export function blobOfPublicKeyLine(line: string): Buffer {
  const fields = line.trim().split(/\s+/);
  const b64 = fields[1];
  if (fields.length < 2 || b64 === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new Error('not an OpenSSH public key line');
  }
  const blob = Buffer.from(b64, 'base64');
  if (keyTypeOfBlob(blob) !== fields[0]) throw new Error('public key type does not match its blob');
  return blob;
}
