/**
 * Makes certificates from plan specs: self-signed CAs and CA-signed leaves, with the extensions
 * kubeadm v1.13 sets (plus basicConstraints CA:FALSE and key identifiers, which every verifier
 * accepts and which make chains unambiguous).
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { toCryptoKeyPair } from './keys.js';
import type { CertSpec, ExtKeyUsageName } from './cert-table.js';
import { x509 } from './x509.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Hosts' clocks drift; a certificate valid from a few minutes ago works on all of them. */
const BACKDATE_MS = 5 * 60 * 1000;

const EKU_OID: Record<ExtKeyUsageName, string> = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
};

/** A CA ready to sign: its certificate and private key. */
export interface SigningCa {
  cert: x509.X509Certificate;
  key: KeyObject;
}

/** Subject as Go's pkix.Name orders it: O before CN. */
export function subjectName(spec: Pick<CertSpec, 'commonName' | 'organizations'>): x509.JsonNameParams {
  const name: x509.JsonNameParams = spec.organizations.map((o) => ({ O: [o] }));
  name.push({ CN: [spec.commonName] });
  return name;
}

/** A random positive 128-bit serial number (RFC 5280 allows up to 20 octets). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function keyUsages(key: KeyObject, ca: boolean): number {
  let flags = x509.KeyUsageFlags.digitalSignature;
  // Key encipherment only means something for RSA (TLS RSA key exchange).
  if (key.asymmetricKeyType === 'rsa') flags |= x509.KeyUsageFlags.keyEncipherment;
  if (ca) flags |= x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  return flags;
}

function validity(now: Date, days: number, cap?: Date): { notBefore: Date; notAfter: Date } {
  const whole = Math.floor(now.getTime() / 1000) * 1000;
  let notAfter = new Date(whole + days * DAY_MS);
  if (cap && notAfter > cap) notAfter = cap;
  return { notBefore: new Date(whole - BACKDATE_MS), notAfter };
}

/** A self-signed CA certificate for `spec` with `key`. */
export async function createCaCertificate(spec: CertSpec, key: KeyObject, now: Date): Promise<x509.X509Certificate> {
  const keys = await toCryptoKeyPair(key);
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: new x509.Name(subjectName(spec)),
    ...validity(now, spec.validityDays),
    keys,
    signingAlgorithm: keys.privateKey.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(keyUsages(key, true), true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
}

/** A leaf certificate for `spec` with `key`, signed by `ca`; never outlives the CA. */
export async function createLeafCertificate(
  spec: CertSpec,
  key: KeyObject,
  ca: SigningCa,
  now: Date,
): Promise<x509.X509Certificate> {
  const [keys, caKeys] = await Promise.all([toCryptoKeyPair(key), toCryptoKeyPair(ca.key)]);
  const caSki = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(keyUsages(key, false), true),
    new x509.ExtendedKeyUsageExtension(spec.extKeyUsages.map((u) => EKU_OID[u])),
    caSki
      ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId)
      : await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const names = [
    ...spec.sans.dns.map((value) => ({ type: 'dns' as const, value })),
    ...spec.sans.ip.map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  return x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: new x509.Name(subjectName(spec)),
    issuer: ca.cert.subjectName,
    ...validity(now, spec.validityDays, ca.cert.notAfter),
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: caKeys.privateKey.algorithm,
    extensions,
  });
}
