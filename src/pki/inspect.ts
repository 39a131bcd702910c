/**
 * Reads what a certificate says (names, usages, validity, issuer) and compares it with a spec.
 */
import type { KeyObject } from 'node:crypto';
import { canonicalIp } from './addresses.js';
import { spkiDer } from './keys.js';
import type { CertSpec, ExtKeyUsageName, SubjectAltNames } from './cert-table.js';
import { x509 } from './x509.js';

export interface CertFacts {
  subject: string;
  commonName: string;
  organizations: string[];
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  sans: SubjectAltNames;
  /** serverAuth/clientAuth by name, other usages as OIDs. */
  extKeyUsages: string[];
}

const EKU_NAME: Record<string, ExtKeyUsageName> = {
  [x509.ExtendedKeyUsage.serverAuth]: 'serverAuth',
  [x509.ExtendedKeyUsage.clientAuth]: 'clientAuth',
};

export function parseCertificate(pem: string | Buffer): x509.X509Certificate {
  return new x509.X509Certificate(typeof pem === 'string' ? pem : pem.toString('utf8'));
}

export function certFacts(cert: x509.X509Certificate): CertFacts {
  const sans: SubjectAltNames = { dns: [], ip: [] };
  for (const ext of cert.getExtensions(x509.SubjectAlternativeNameExtension)) {
    for (const n of ext.names.items) {
      if (n.type === 'dns') sans.dns.push(n.value.toLowerCase());
      else if (n.type === 'ip') sans.ip.push(canonicalIp(n.value));
    }
  }
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  return {
    subject: cert.subject,
    commonName: cert.subjectName.getField('CN')[0] ?? '',
    organizations: cert.subjectName.getField('O'),
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    isCa: bc?.ca ?? false,
    sans,
    extKeyUsages: Array.from(eku?.usages ?? []).map((u) => EKU_NAME[String(u)] ?? String(u)),
  };
}

const sorted = (xs: readonly string[]) => [...xs].sort();

function setDiff(label: string, want: readonly string[], have: readonly string[]): string[] {
  const missing = want.filter((x) => !have.includes(x)).map((x) => `+${label}:${x}`);
  const extra = have.filter((x) => !want.includes(x)).map((x) => `-${label}:${x}`);
  return [...missing, ...extra];
}

/**
 * How a certificate's names and usages differ from its spec, in words; empty when they match.
 * SANs and organizations compare as sets: their order carries no meaning to any verifier.
 */
export function nameDifferences(spec: CertSpec, facts: CertFacts): string[] {
  const out: string[] = [];
  if (facts.commonName !== spec.commonName) out.push(`CN is "${facts.commonName}", plan says "${spec.commonName}"`);
  if (sorted(facts.organizations).join('\n') !== sorted(spec.organizations).join('\n')) {
    out.push(`O is [${facts.organizations.join(', ')}], plan says [${spec.organizations.join(', ')}]`);
  }
  const sanChanges = [...setDiff('DNS', spec.sans.dns, facts.sans.dns), ...setDiff('IP', spec.sans.ip, facts.sans.ip)];
  if (sanChanges.length > 0) out.push(`SANs changed (${sanChanges.join(', ')})`);
  if (sorted(facts.extKeyUsages).join() !== sorted(spec.extKeyUsages).join()) {
    out.push(`extended key usages are [${facts.extKeyUsages.join(', ')}], plan says [${spec.extKeyUsages.join(', ')}]`);
  }
  return out;
}

/** True when the private key belongs to the certificate. */
export function keyMatchesCert(key: KeyObject, cert: x509.X509Certificate): boolean {
  return spkiDer(key).equals(Buffer.from(cert.publicKey.rawData));
}

/** True when `cert` names `ca` as issuer and carries a valid signature by the CA's key. */
export async function signedBy(cert: x509.X509Certificate, ca: x509.X509Certificate): Promise<boolean> {
  const issuerDer = Buffer.from(cert.issuerName.toArrayBuffer());
  const caSubjectDer = Buffer.from(ca.subjectName.toArrayBuffer());
  if (!issuerDer.equals(caSubjectDer)) return false;
  try {
    return await cert.verify({ publicKey: ca.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/** Certificates expiring within this many days are renewed (leaves) or warned about (CAs). */
export const RENEW_BEFORE_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Whole days from `now` until `notAfter` (negative once expired). */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
}

/** "1 day", "3 days". */
export function dayCount(n: number): string {
  return `${n} ${Math.abs(n) === 1 ? 'day' : 'days'}`;
}
