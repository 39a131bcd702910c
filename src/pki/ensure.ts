/**
 * Brings a PKI directory in line with the plan: creates what is missing, reuses what is valid,
 * reissues leaves that no longer match (and says why), and refuses to replace a CA or the
 * service-account key behind the user's back. Also the engine of renewCertificates().
 */
import type { KeyObject } from 'node:crypto';
import path from 'node:path';
import pLimit from 'p-limit';
import type { PkiInput } from './input.js';
import { createCaCertificate, createLeafCertificate, type SigningCa } from './issue.js';
import { judgeCa, judgeKeypair, judgeLeaf, leafKey, load, type Action, type Loaded } from './judge.js';
import { generateKeys, privateKeyPem, publicKeyPem } from './keys.js';
import { MODE } from './layout.js';
import { planCertificates } from './cert-table.js';
import { ensureMode, ensurePrivateDir, readIfExists, writeFileAtomic } from './store.js';
import type { x509 } from './x509.js';

export { RENEW_BEFORE_DAYS } from './inspect.js';

export interface PkiReport {
  dir: string;
  /** Specs issued where no certificate (or key pair) existed. */
  created: string[];
  /** Specs whose files were valid and kept byte for byte. */
  reused: string[];
  /** Specs that existed but were issued again, with the reason. */
  reissued: { name: string; reason: string }[];
  /** Files written, relative to `dir`. */
  written: string[];
  /** Files and directories whose permission bits were corrected, relative to `dir`. */
  modesFixed: string[];
  warnings: string[];
  /** Private keys generated in this run. */
  keysGenerated: number;
  /** The earliest notAfter among the certificates the directory now holds (from the full check). */
  firstExpiry?: Date;
}

export interface EnsureOptions {
  /** The clock, for tests. */
  now?: Date;
}

interface Mode {
  /** Renewal: only these leaves, always reissued; nothing else is created. */
  renew?: Set<string>;
}

/** Ensures the whole plan (ensurePki) or renews some leaves (renewCertificates). */
export async function reconcile(dir: string, input: PkiInput, now: Date, mode: Mode = {}): Promise<PkiReport> {
  const specs = planCertificates(input);
  const report: PkiReport = {
    dir,
    created: [],
    reused: [],
    reissued: [],
    written: [],
    modesFixed: [],
    warnings: [],
    keysGenerated: 0,
  };
  const renewing = mode.renew !== undefined;

  // Judge the CAs and the service-account key; unsafe states throw here, before any write.
  const actions = new Map<string, Action>();
  const loaded = new Map<string, Loaded>();
  await Promise.all(specs.map(async (s) => loaded.set(s.name, await load(dir, s))));
  const cas = specs.filter((x) => x.kind === 'ca');
  for (const s of cas) actions.set(s.name, judgeCa(dir, s, loaded.get(s.name)!, now, report.warnings, renewing));
  const sa = specs.find((x) => x.kind === 'keypair');
  if (sa && !renewing) {
    actions.set(sa.name, judgeKeypair(dir, sa, loaded.get(sa.name)!, await readIfExists(path.join(dir, sa.files.pub!))));
  }
  const leaves = specs.filter((x) => x.kind === 'leaf' && (!renewing || mode.renew!.has(x.name)));

  // The PKI dir and its subdirectories are private; made only once the CAs are known to be safe.
  const subdirs = new Set<string>(['.']);
  for (const s of specs) for (const f of Object.values(s.files)) subdirs.add(path.dirname(f));
  for (const d of [...subdirs].sort()) {
    if (await ensurePrivateDir(path.join(dir, d))) report.modesFixed.push(d === '.' ? '.' : `${d}/`);
  }

  // Generate every missing key at once (this is where the time goes). Whether a key is needed
  // depends on the key file alone, so leaf keys are made alongside the CA keys.
  const keyOf = new Map<string, KeyObject>();
  const freshKey = new Set<string>();
  for (const s of [...cas, ...(sa ? [sa] : [])]) {
    const a = actions.get(s.name);
    if (a?.key) keyOf.set(s.name, a.key);
  }
  for (const s of leaves) {
    const k = leafKey(s, loaded.get(s.name)!).key;
    if (k) keyOf.set(s.name, k);
  }
  const needKeys = [
    ...[...cas, ...(sa ? [sa] : [])].filter((s) => actions.get(s.name)?.kind === 'issue' && !keyOf.has(s.name)),
    ...leaves.filter((s) => !keyOf.has(s.name)),
  ];
  const newKeys = await generateKeys(needKeys.map((s) => s.keyAlgorithm));
  report.keysGenerated = newKeys.length;
  needKeys.forEach((s, i) => {
    keyOf.set(s.name, newKeys[i]!);
    freshKey.add(s.name);
  });

  // CAs first, then each leaf is judged against the CA certificate that will sign it.
  const signing = new Map<string, SigningCa>();
  const newCerts = new Map<string, x509.X509Certificate>();
  for (const s of cas) {
    const a = actions.get(s.name)!;
    const key = keyOf.get(s.name)!;
    if (a.kind === 'reuse') signing.set(s.name, { cert: a.cert!, key });
    else {
      const cert = await createCaCertificate(s, key, now);
      newCerts.set(s.name, cert);
      signing.set(s.name, { cert, key });
    }
  }
  const forced = renewing ? 'renewal requested' : undefined;
  await Promise.all(
    leaves.map(async (s) => {
      actions.set(s.name, await judgeLeaf(s, loaded.get(s.name)!, signing.get(s.issuer!)!.cert, now, forced));
    }),
  );
  await Promise.all(
    leaves
      .filter((s) => actions.get(s.name)!.kind === 'issue')
      .map(async (s) => newCerts.set(s.name, await createLeafCertificate(s, keyOf.get(s.name)!, signing.get(s.issuer!)!, now))),
  );

  // Write: the key before its certificate, so an interrupted run leaves a usable key behind.
  // Specs proceed in parallel; the limit bounds open files and fsyncs in flight.
  const limit = pLimit(16);
  const put = (rel: string, data: string, fileMode: number) =>
    limit(async () => {
      await writeFileAtomic(path.join(dir, rel), data, fileMode);
      report.written.push(rel);
    });
  const keepMode = (rel: string, fileMode: number) =>
    limit(async () => {
      if (await ensureMode(path.join(dir, rel), fileMode)) report.modesFixed.push(rel);
    });
  const tasks: Promise<void>[] = [];
  for (const s of specs) {
    const a = actions.get(s.name);
    if (a === undefined) continue;
    const key = keyOf.get(s.name)!;
    if (a.kind === 'reuse') report.reused.push(s.name);
    else if (a.reason === undefined) report.created.push(s.name);
    else report.reissued.push({ name: s.name, reason: a.reason });
    if (a.kind === 'reuse' && a.fixPub) {
      report.reissued.push({ name: s.name, reason: `${s.files.pub} did not match ${s.files.key}; written from it` });
    }
    tasks.push(
      (async () => {
        if (freshKey.has(s.name)) await put(s.files.key, privateKeyPem(key), MODE.privateKey);
        else await keepMode(s.files.key, MODE.privateKey);
        if (s.files.cert) {
          const cert = newCerts.get(s.name);
          if (cert) await put(s.files.cert, `${cert.toString('pem')}\n`, MODE.certificate);
          else await keepMode(s.files.cert, MODE.certificate);
        }
        if (s.files.pub) {
          if (a.kind === 'issue' || a.fixPub) await put(s.files.pub, publicKeyPem(key), MODE.publicKey);
          else await keepMode(s.files.pub, MODE.publicKey);
        }
      })(),
    );
  }
  await Promise.all(tasks);
  report.written.sort();
  report.modesFixed.sort();
  const held = specs.flatMap((s) => {
    const a = actions.get(s.name);
    const cert = newCerts.get(s.name) ?? (a?.kind === 'reuse' ? (a.cert ?? loaded.get(s.name)?.cert) : undefined);
    return cert ? [cert.notAfter.getTime()] : [];
  });
  if (held.length > 0) report.firstExpiry = new Date(Math.min(...held));
  return report;
}

/**
 * Creates what is missing under `dir` and reuses what is valid; see docs/pki.md. Running it twice
 * with the same input changes no byte.
 */
export async function ensurePki(dir: string, input: PkiInput, options: EnsureOptions = {}): Promise<PkiReport> {
  return reconcile(dir, input, options.now ?? new Date());
}
