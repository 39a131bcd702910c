/**
 * The verdict on each spec's files: reuse them, or issue again and why. CA and service-account
 * states that are unsafe to repair automatically throw here, before anything is written.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { KprovError } from '../errors.js';
import {
  certFacts,
  dayCount,
  daysLeft,
  keyMatchesCert,
  nameDifferences,
  parseCertificate,
  RENEW_BEFORE_DAYS,
  signedBy,
} from './inspect.js';
import { describeKey, parsePrivateKey, spkiDer } from './keys.js';
import type { CertSpec } from './cert-table.js';
import { readIfExists } from './store.js';
import type { x509 } from './x509.js';

/** A spec's files as found on disk: parsed, or why not. */
export interface Loaded {
  cert?: x509.X509Certificate;
  certError?: string;
  certPresent: boolean;
  key?: KeyObject;
  keyError?: string;
  keyPresent: boolean;
}

/** What happens to one spec. `reason` undefined on an issue means "created". */
export type Action =
  | { kind: 'reuse'; key: KeyObject; cert?: x509.X509Certificate; fixPub?: boolean }
  | { kind: 'issue'; reason?: string; key?: KeyObject };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reads and parses a spec's key and certificate; absence and parse errors are recorded, not thrown. */
export async function load(dir: string, spec: CertSpec): Promise<Loaded> {
  const keyFile = path.join(dir, spec.files.key);
  const certFile = spec.files.cert === undefined ? undefined : path.join(dir, spec.files.cert);
  const [keyPem, certPem] = await Promise.all([
    readIfExists(keyFile),
    certFile === undefined ? Promise.resolve(undefined) : readIfExists(certFile),
  ]);
  const out: Loaded = { certPresent: certPem !== undefined, keyPresent: keyPem !== undefined };
  if (keyPem !== undefined) {
    try {
      out.key = parsePrivateKey(keyPem);
    } catch (err) {
      out.keyError = message(err);
    }
  }
  if (certPem !== undefined) {
    try {
      out.cert = parseCertificate(certPem);
    } catch (err) {
      out.certError = message(err);
    }
  }
  return out;
}

const REPLACE_CA_HINT =
  'Replacing a CA means reissuing and redistributing every certificate it signed; to do that on purpose, move both files away and run again.';

function caError(dir: string, file: string, text: string, hint = REPLACE_CA_HINT): KprovError {
  return new KprovError('pki', text, { location: { file: path.join(dir, file) }, hint });
}

/** A CA is reused or created from scratch, never replaced: every unsafe state is an error. */
export function judgeCa(dir: string, spec: CertSpec, l: Loaded, now: Date, warnings: string[], renew: boolean): Action {
  const certFile = spec.files.cert!;
  const keyFile = spec.files.key;
  if (!l.certPresent && !l.keyPresent) {
    if (renew) {
      throw caError(dir, certFile, `the ${spec.description} does not exist yet, so nothing can be renewed`, 'Create the PKI first.');
    }
    return { kind: 'issue' };
  }
  if (l.keyError !== undefined) throw caError(dir, keyFile, `cannot parse the ${spec.description} private key: ${l.keyError}`);
  if (!l.keyPresent) {
    throw caError(
      dir,
      keyFile,
      `${certFile} exists but its private key ${keyFile} is missing`,
      `Restore ${keyFile} from a backup. To start a new CA instead (every certificate it signed is reissued and must be redistributed), move ${certFile} away too.`,
    );
  }
  if (!l.certPresent) {
    // The key is the CA's identity; a certificate made anew from it still verifies what it signed.
    return { kind: 'issue', reason: `${certFile} was missing; made anew from the existing ${keyFile}`, key: l.key! };
  }
  if (l.certError !== undefined) throw caError(dir, certFile, `cannot parse the ${spec.description} certificate: ${l.certError}`);
  const cert = l.cert!;
  const key = l.key!;
  if (!keyMatchesCert(key, cert)) {
    throw caError(dir, keyFile, `${keyFile} is not the private key of ${certFile}`, `Put the matching key back. ${REPLACE_CA_HINT}`);
  }
  const facts = certFacts(cert);
  if (!facts.isCa) throw caError(dir, certFile, `${certFile} is not a CA certificate (basicConstraints CA:FALSE)`);
  const left = daysLeft(facts.notAfter, now);
  if (facts.notAfter <= now) {
    throw caError(dir, certFile, `the ${spec.description} expired on ${facts.notAfter.toISOString()}`);
  }
  if (left < RENEW_BEFORE_DAYS) {
    warnings.push(`${certFile}: the ${spec.description} expires in ${dayCount(left)}; certificates it signs end with it`);
  }
  return { kind: 'reuse', key, cert };
}

/** The service-account key pair: sa.pub follows sa.key; sa.key is never replaced. */
export function judgeKeypair(dir: string, spec: CertSpec, l: Loaded, pubPem: Buffer | undefined): Action {
  const keyFile = spec.files.key;
  const pubFile = spec.files.pub!;
  if (!l.keyPresent) {
    if (pubPem !== undefined) {
      throw caError(
        dir,
        keyFile,
        `${pubFile} exists but ${keyFile} is missing`,
        `Restore ${keyFile} from a backup. A new key invalidates every service-account token; to do that on purpose, move ${pubFile} away too.`,
      );
    }
    return { kind: 'issue' };
  }
  if (l.key === undefined) {
    throw caError(dir, keyFile, `cannot parse ${keyFile}: ${l.keyError}`, `Restore ${keyFile} from a backup.`);
  }
  let pubMatches = false;
  if (pubPem !== undefined) {
    try {
      pubMatches = spkiDer(l.key).equals(spkiDer(createPublicKey(pubPem)));
    } catch {
      pubMatches = false;
    }
  }
  return { kind: 'reuse', key: l.key, fixPub: !pubMatches };
}

/** A leaf's existing key is kept unless it is missing, unreadable or of another algorithm. */
export function leafKey(spec: CertSpec, l: Loaded): { key?: KeyObject; problem?: string } {
  if (!l.keyPresent) return { problem: 'private key missing' };
  if (l.key === undefined) return { problem: `private key unreadable (${l.keyError})` };
  const alg = describeKey(l.key);
  if (alg !== spec.keyAlgorithm) return { problem: `key is ${alg}, plan says ${spec.keyAlgorithm}` };
  return { key: l.key };
}

/** A leaf is reused only when key, signature, validity (30-day margin) and names all hold. */
export async function judgeLeaf(
  spec: CertSpec,
  l: Loaded,
  ca: x509.X509Certificate,
  now: Date,
  forced: string | undefined,
): Promise<Action> {
  const { key, problem } = leafKey(spec, l);
  const issue = (reason?: string): Action => ({ kind: 'issue', ...(reason === undefined ? {} : { reason }), ...(key ? { key } : {}) });
  if (!l.certPresent) return issue();
  if (problem !== undefined) return issue(problem);
  if (l.cert === undefined) return issue(`certificate unreadable (${l.certError})`);
  const cert = l.cert;
  if (!keyMatchesCert(key!, cert)) return issue('certificate does not belong to the private key');
  if (forced !== undefined) return issue(forced);
  if (!(await signedBy(cert, ca))) return issue(`not signed by the current ${spec.issuer} CA`);
  const facts = certFacts(cert);
  if (facts.isCa) return issue('is a CA certificate');
  const left = daysLeft(facts.notAfter, now);
  if (left < RENEW_BEFORE_DAYS) return issue(left < 0 ? `expired ${dayCount(-left)} ago` : `expires in ${dayCount(left)}`);
  if (facts.notBefore > now) return issue(`not valid before ${facts.notBefore.toISOString()}`);
  const diffs = nameDifferences(spec, facts);
  if (diffs.length > 0) return issue(diffs.join('; '));
  return { kind: 'reuse', key: key!, cert };
}
