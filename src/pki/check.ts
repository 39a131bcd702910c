/**
 * The expiry report (`kprov certs check`): every certificate under the PKI directory, read from
 * disk alone, so it also covers certificates the current inventory no longer plans.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../errors.js';
import { certFacts, dayCount, daysLeft, parseCertificate, RENEW_BEFORE_DAYS, signedBy } from './inspect.js';
import type { SubjectAltNames } from './cert-table.js';
import { readIfExists } from './store.js';
import type { x509 } from './x509.js';

export interface CertStatus {
  /** Path under the PKI directory without `.crt` ("etcd/server-node1"). */
  name: string;
  file: string;
  subject: string;
  issuer: string;
  isCa: boolean;
  sans: SubjectAltNames;
  extKeyUsages: string[];
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  /** Whether a CA in the directory with the issuer's name verifies the signature. */
  issuerVerified: boolean;
  /** Set when the certificate expires within 30 days, has expired, or cannot be read or verified. */
  warning?: string;
}

async function listCertificates(dir: string, rel = ''): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(path.join(dir, rel), { withFileTypes: true });
  } catch (err) {
    throw new KprovError('pki', `cannot read the PKI directory ${dir}: ${(err as Error).message}`, {
      location: { file: dir },
      hint: 'Nothing has been issued yet, or the inventory path is wrong.',
    });
  }
  const out: string[] = [];
  for (const e of entries) {
    const child = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listCertificates(dir, child)));
    else if (e.isFile() && e.name.endsWith('.crt')) out.push(child);
  }
  return out;
}

export async function checkCertificates(dir: string, options: { now?: Date } = {}): Promise<CertStatus[]> {
  const now = options.now ?? new Date();
  const files = (await listCertificates(dir)).sort();
  const parsed: { file: string; cert?: x509.X509Certificate; error?: string }[] = [];
  for (const file of files) {
    try {
      parsed.push({ file, cert: parseCertificate((await readIfExists(path.join(dir, file)))!) });
    } catch (err) {
      parsed.push({ file, error: (err as Error).message });
    }
  }
  const cas = parsed.filter((p) => p.cert && certFacts(p.cert).isCa).map((p) => p.cert!);
  const out: CertStatus[] = [];
  for (const p of parsed) {
    const name = p.file.slice(0, -'.crt'.length);
    if (p.cert === undefined) {
      out.push({
        name,
        file: p.file,
        subject: '',
        issuer: '',
        isCa: false,
        sans: { dns: [], ip: [] },
        extKeyUsages: [],
        serialNumber: '',
        notBefore: '',
        notAfter: '',
        daysLeft: 0,
        issuerVerified: false,
        warning: `cannot parse: ${p.error}`,
      });
      continue;
    }
    const f = certFacts(p.cert);
    let issuerVerified = false;
    for (const ca of cas) if (await signedBy(p.cert, ca)) issuerVerified = true;
    const left = daysLeft(f.notAfter, now);
    const warnings: string[] = [];
    if (f.notAfter <= now) warnings.push(`expired on ${f.notAfter.toISOString()}`);
    else if (left < RENEW_BEFORE_DAYS) warnings.push(`expires in ${dayCount(left)}`);
    if (!issuerVerified) warnings.push(`no CA in ${dir} verifies it (issuer ${f.issuer})`);
    out.push({
      name,
      file: p.file,
      subject: f.subject,
      issuer: f.issuer,
      isCa: f.isCa,
      sans: f.sans,
      extKeyUsages: f.extKeyUsages,
      serialNumber: f.serialNumber,
      notBefore: f.notBefore.toISOString(),
      notAfter: f.notAfter.toISOString(),
      daysLeft: left,
      issuerVerified,
      ...(warnings.length > 0 ? { warning: warnings.join('; ') } : {}),
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
