/**
 * A PKI check that reused every file, remembered so the next run may skip it: parsing and
 * verifying every key and certificate costs ~0.1 s of CPU on 3 hosts, on every run. The verdict
 * is a function of the plan, the files' bytes and permission bits, the directories' permission
 * bits and the clock; it is reused only while all of those are as they were and the clock is
 * between the check and the first renewal it would make (a certificate's notAfter less
 * RENEW_BEFORE_DAYS). Anything else, or a kprov whose checks differ, runs the full check.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { CertSpec } from './cert-table.js';
import type { PkiReport } from './ensure.js';
import { RENEW_BEFORE_DAYS } from './inspect.js';
import { writeFileAtomic } from './store.js';

/** Bump when what the full check judges changes: an older verdict then counts for nothing. */
const CHECK_VERSION = 1;
const DAY_MS = 86_400_000;

const verdictSchema = z.object({
  check: z.literal(CHECK_VERSION),
  plan: z.string(),
  /** Relative path → `sha256 mode` for files, `dir mode` for directories. */
  entries: z.record(z.string(), z.string()),
  checkedAt: z.string(),
  renewalDue: z.string(),
});

export interface PkiState {
  /** Every planned file's bytes (missing files are absent). */
  files: Map<string, Buffer>;
  /** What the verdict is keyed by. */
  entries: Record<string, string>;
}

function planKey(plan: readonly CertSpec[]): string {
  return createHash('sha256').update(JSON.stringify(plan)).digest('hex');
}

/** Reads every planned file once, with its permission bits and the directories'. */
export async function readPkiState(dir: string, plan: readonly CertSpec[]): Promise<PkiState> {
  const rels = [...new Set(plan.flatMap((s) => Object.values(s.files)))].sort();
  const dirs = [...new Set(rels.map((r) => path.dirname(r)))].sort();
  const files = new Map<string, Buffer>();
  const entries: Record<string, string> = {};
  await Promise.all([
    ...rels.map(async (rel) => {
      const file = path.join(dir, rel);
      try {
        const [data, st] = await Promise.all([readFile(file), stat(file)]);
        files.set(rel, data);
        entries[rel] = `${createHash('sha256').update(data).digest('hex')} ${(st.mode & 0o7777).toString(8)}`;
      } catch {
        // Missing or unreadable: the full check says what to do.
      }
    }),
    ...dirs.map(async (rel) => {
      const st = await stat(path.join(dir, rel)).catch(() => undefined);
      if (st) entries[`${rel}/`] = `dir ${(st.mode & 0o7777).toString(8)}`;
    }),
  ]);
  return { files, entries };
}

/** The report of a full check that would reuse everything, when the remembered verdict still holds. */
export async function rememberedVerdict(file: string, dir: string, plan: readonly CertSpec[], state: PkiState, now: Date): Promise<PkiReport | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  const v = verdictSchema.safeParse(raw);
  if (!v.success || v.data.plan !== planKey(plan)) return undefined;
  const checkedAt = Date.parse(v.data.checkedAt);
  const renewalDue = Date.parse(v.data.renewalDue);
  if (!(checkedAt <= now.getTime() && now.getTime() < renewalDue)) return undefined;
  const want = Object.entries(v.data.entries);
  const have = Object.entries(state.entries);
  if (want.length !== have.length || want.some(([rel, fp]) => state.entries[rel] !== fp)) return undefined;
  return { dir, created: [], reused: plan.map((s) => s.name), reissued: [], written: [], modesFixed: [], warnings: [], keysGenerated: 0 };
}

/**
 * Remembers a full check that changed nothing and warned of nothing; `firstExpiry` is the
 * earliest notAfter it saw. Best effort: a verdict that cannot be written is only a slower next run.
 */
export async function rememberVerdict(file: string, plan: readonly CertSpec[], state: PkiState, report: PkiReport, firstExpiry: Date | undefined, now: Date): Promise<void> {
  const steady = report.created.length + report.reissued.length + report.written.length + report.modesFixed.length + report.warnings.length === 0;
  if (!steady || firstExpiry === undefined) return;
  const verdict: z.infer<typeof verdictSchema> = {
    check: CHECK_VERSION,
    plan: planKey(plan),
    entries: state.entries,
    checkedAt: now.toISOString(),
    renewalDue: new Date(firstExpiry.getTime() - RENEW_BEFORE_DAYS * DAY_MS).toISOString(),
  };
  await writeFileAtomic(file, `${JSON.stringify(verdict, null, 2)}\n`, 0o600).catch(() => undefined);
}
