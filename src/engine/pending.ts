/**
 * Handlers a host is owed, recorded on the host itself. Handlers run at the end of a play, so a
 * run that ends between a task's change and its handler (a signal, a crash, a lost host or
 * connection) would leave a service running on files it never read, and the next run, finding
 * the files already right, would notify nothing. So a task that notifies handlers first appends
 * what it is about to change to one record per handler under PENDING_DIR (one command, synced,
 * before its apply touches anything); the record goes only after the handler ran and its health
 * wait passed. The next run's read-ahead stats the records of the handlers the host's tasks can
 * notify, together with everything else it reads: a host with none costs no command.
 *
 * A record is plain text, one `KEY VALUE` line each:
 *   handler restart kube-apiserver
 *   unit kube-apiserver.service
 *   changed /etc/systemd/system/kube-apiserver.service
 */
import { z } from 'zod';
import type { Change, ProbeCommand } from './contract.js';
import { shScript } from '../ssh/quote.js';
import type { RemoteHost } from '../ssh/types.js';

export const PENDING_DIR = '/var/lib/kprov/pending';

/** What a record says: the handler owed, the unit it restarts (if any), what changed before it. */
export interface PendingRecord {
  handler: string;
  unit?: string;
  changed: string[];
}

/** A record as the verify probe lists it: with the time of its last change (seconds since the epoch). */
export interface ListedRecord extends PendingRecord {
  since?: number;
}

/** A handler name as a file name: letters, digits, `_` and `-` kept, any other byte %XX (so no `/`, no `..`). */
export function recordName(handler: string): string {
  return [...Buffer.from(handler, 'utf8')]
    .map((b) => (/[A-Za-z0-9_-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

export function pendingRecordPath(handler: string): string {
  return `${PENDING_DIR}/${recordName(handler)}`;
}

// One line per value: a newline inside a summary must not start a line of its own.
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');

/** What a change is remembered by: its path, else its summary. */
export function changedLines(changes: readonly Change[]): string[] {
  return [...new Set(changes.map((c) => `changed ${oneLine(c.path ?? c.summary)}`))];
}

/**
 * Appends the changed lines to each record (writing its header first when the record is new),
 * then syncs records and directory: they are on disk before the change they announce.
 * Arguments: DIR BODY then NAME HEADER pairs.
 */
export const PENDING_WRITE_SCRIPT = `d=$1 body=$2
shift 2
umask 077
mkdir -p -- "$d" || exit 1
while [ "$#" -ge 2 ]; do
  f=$d/$1
  { [ -s "$f" ] || printf '%s\\n' "$2"; printf '%s\\n' "$body"; } >>"$f" || exit 1
  sync -- "$f" 2>/dev/null || :
  shift 2
done
sync -- "$d" 2>/dev/null || :`;

export const PENDING_WRITE_NAME = 'kprov-pending';

export interface OwedHandler {
  name: string;
  unit?: string;
}

export function pendingWriteArgv(handlers: readonly OwedHandler[], changes: readonly Change[]): string[] {
  const pairs = handlers.flatMap((h) => [recordName(h.name), [`handler ${oneLine(h.name)}`, ...(h.unit ? [`unit ${oneLine(h.unit)}`] : [])].join('\n')]);
  return shScript(PENDING_WRITE_SCRIPT, [PENDING_DIR, changedLines(changes).join('\n'), ...pairs], PENDING_WRITE_NAME);
}

/** Records that `handlers` are owed because of `changes`, before the changes are made. */
export async function recordPending(host: RemoteHost, handlers: readonly OwedHandler[], changes: readonly Change[]): Promise<void> {
  if (handlers.length === 0) return;
  await host.run(pendingWriteArgv(handlers, changes));
}

/** The handler ran and its service is healthy: nothing is owed any more. */
export async function clearPending(host: RemoteHost, handler: string): Promise<void> {
  await host.run(['rm', '-f', '--', pendingRecordPath(handler)]);
}

const line = z.string().regex(/^(handler|unit|changed) \S/);

/** A record's text; `handler` is the name its file stands for (a record cut short by a crash may lack its header). */
export function parseRecord(text: string, handler: string): PendingRecord {
  const record: PendingRecord = { handler, changed: [] };
  for (const raw of text.split('\n')) {
    const parsed = line.safeParse(raw);
    // A line cut short by a crash, or one a later kprov adds: skipped.
    if (!parsed.success) continue;
    const space = raw.indexOf(' ');
    const [key, value] = [raw.slice(0, space), raw.slice(space + 1)];
    if (key === 'handler') record.handler = value;
    else if (key === 'unit') record.unit = value;
    else if (!record.changed.includes(value)) record.changed.push(value);
  }
  return record;
}

/** The record of `handler` on the host, read when the read-ahead found it there. */
export async function readPending(host: RemoteHost, handler: string): Promise<PendingRecord> {
  const text = (await host.readFile(pendingRecordPath(handler)))?.toString('utf8') ?? '';
  return parseRecord(text, handler);
}

/** Every record on the host, each after a frame line `@@ MTIME NAME`. */
export const PENDING_LIST_SCRIPT = `d=$1
[ -d "$d" ] || exit 0
for f in "$d"/*; do
  [ -f "$f" ] || continue
  printf '\\n@@ %s %s\\n' "$(stat -c %Y -- "$f")" "\${f##*/}"
  cat -- "$f"
done`;

export const PENDING_LIST_NAME = 'kprov-pending-list';

/** A read-only probe listing every pending record (verification runs it with its other reads). */
export function pendingListProbe(): ProbeCommand {
  return { argv: shScript(PENDING_LIST_SCRIPT, [PENDING_DIR], PENDING_LIST_NAME), timeoutMs: 15_000 };
}

const frame = z.object({ since: z.coerce.number().int().nonnegative(), name: z.string().min(1) });

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

export function parsePendingList(stdout: string): ListedRecord[] {
  const out: ListedRecord[] = [];
  for (const block of stdout.split(/^@@ /m).slice(1)) {
    const newline = block.indexOf('\n');
    const [since, ...name] = (newline < 0 ? block : block.slice(0, newline)).split(' ');
    const head = frame.safeParse({ since, name: name.join(' ') });
    if (!head.success) continue;
    const record = parseRecord(newline < 0 ? '' : block.slice(newline + 1), decodeName(head.data.name));
    out.push({ ...record, since: head.data.since });
  }
  return out;
}
