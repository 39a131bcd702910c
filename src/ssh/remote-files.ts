/**
 * Remote files: state read by one exec (sha256sum + stat), content sent over the connection's SFTP
 * channel into a temp file that is fsynced and renamed into place, ownership and mode set before
 * the rename so the final path never shows a half-written or wrongly owned file. Small content in
 * memory does all of that in one command, the content on its stdin.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { z } from 'zod';
import { ExitCode, KprovError } from '../errors.js';
import { mayBeNoSpace, noSpaceError, saysNoSpace, spaceIsShort } from './no-space.js';
import { shScript } from './quote.js';
import type { RawResult } from './session.js';
import type { FileSpec } from './types.js';

/** What file operations need from a connected host. */
export interface FileTransport {
  readonly name: string;
  /** Commands run through sudo, while SFTP runs as the login user. */
  readonly become: boolean;
  /** Runs argv (through sudo when becoming) and returns raw output. */
  execRaw(argv: readonly string[], stdin?: Buffer): Promise<RawResult & { command: string }>;
  sftp(): Promise<SFTPWrapper>;
  /** The login user's home as SFTP sees it (where become uploads are staged). */
  sftpHome(): Promise<string>;
  countUploaded(bytes: number): void;
}

/** Chunk size per SFTP write call and how many may be in flight: keeps a long pipe busy without buffering a whole binary. */
const WRITE_CHUNK = 256 * 1024;
const WRITES_IN_FLIGHT = 8;
const MISSING = 3;

function fail(t: Pick<FileTransport, 'name'>, message: string, cause?: unknown): KprovError {
  return new KprovError('host', message, { host: t.name, ...(cause === undefined ? {} : { cause }) });
}

function commandError(t: FileTransport, what: string, r: RawResult & { command: string }): KprovError {
  const detail = r.stderr.toString('utf8').trim() || r.stdout.toString('utf8').trim();
  return fail(t, `${what} failed (exit code ${r.code}): ${r.command}${detail ? `\n${detail}` : ''}`);
}

/** A failed step of writing `file`: a full disk said plainly, anything else with its command and output. */
function writeError(t: FileTransport, file: string, what: string, r: RawResult & { command: string }): KprovError {
  return saysNoSpace(r) ? noSpaceError(t.name, file) : commandError(t, what, r);
}

export async function remoteSha256(t: FileTransport, file: string): Promise<string | undefined> {
  // Reading from stdin keeps odd file names out of sha256sum's output.
  const r = await t.execRaw(shScript(`[ -e "$1" ] || exit ${MISSING}; sha256sum < "$1"`, [file]));
  if (r.code === MISSING) return undefined;
  const hash = /^([0-9a-f]{64})\b/.exec(r.stdout.toString('latin1'))?.[1];
  if (r.code !== 0 || !hash) throw commandError(t, `sha256 of ${file}`, r);
  return hash;
}

export async function remoteRead(t: FileTransport, file: string): Promise<Buffer | undefined> {
  const r = await t.execRaw(shScript(`[ -e "$1" ] || exit ${MISSING}; exec cat -- "$1"`, [file]));
  if (r.code === MISSING) return undefined;
  if (r.code !== 0) throw commandError(t, `reading ${file}`, r);
  return r.stdout;
}

/**
 * One line describing the target: `missing` (its directory now exists), `dir`, or
 * `file SHA256 MODE UID GID USER GROUP`.
 */
const STATE_SCRIPT = `f=$1
if [ -d "$f" ]; then echo dir; exit 0; fi
if [ -e "$f" ]; then
  h=$(sha256sum < "$f") || exit 1
  exec stat -L -c "file \${h%% *} %a %u %g %U %G" -- "$f"
fi
mkdir -p -- "$(dirname -- "$f")" && echo missing`;

const stateSchema = z.union([
  z.tuple([z.literal('missing')]),
  z.tuple([z.literal('dir')]),
  z.tuple([
    z.literal('file'),
    z.string().regex(/^[0-9a-f]{64}$/),
    z.string().regex(/^[0-7]{1,4}$/),
    z.string(),
    z.string(),
    z.string(),
    z.string(),
  ]),
]);

interface RemoteState {
  exists: boolean;
  sha256?: string;
  mode?: number;
  uid?: string;
  gid?: string;
  user?: string;
  group?: string;
}

async function remoteState(t: FileTransport, file: string): Promise<RemoteState> {
  const r = await t.execRaw(shScript(STATE_SCRIPT, [file]));
  const parsed = stateSchema.safeParse(r.stdout.toString('utf8').trim().split(/\s+/));
  // The script creates a missing parent directory, which a full disk refuses.
  if (r.code !== 0 || !parsed.success) throw writeError(t, file, `inspecting ${file}`, r);
  const s = parsed.data;
  if (s[0] === 'dir') throw fail(t, `cannot write ${file}: it is a directory`);
  if (s[0] === 'missing') return { exists: false };
  return { exists: true, sha256: s[1], mode: parseInt(s[2], 8), uid: s[3], gid: s[4], user: s[5], group: s[6] };
}

/** `owner:group`, `owner` or `:group` for chown, or '' to leave ownership as created. */
function chownArg(spec: FileSpec): string {
  if (spec.owner && spec.group) return `${spec.owner}:${spec.group}`;
  if (spec.owner) return spec.owner;
  if (spec.group) return `:${spec.group}`;
  return '';
}

function modeArg(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function sameOwner(want: string | undefined, name: string | undefined, id: string | undefined): boolean {
  return want === undefined || want === name || want === id;
}

function metadataMatches(state: RemoteState, spec: FileSpec): boolean {
  return (
    state.mode === (spec.mode & 0o7777) &&
    sameOwner(spec.owner, state.user, state.uid) &&
    sameOwner(spec.group, state.group, state.gid)
  );
}

/** Sets owner and mode on the temp file, then renames it over the target; removes the temp on failure. */
const INSTALL_DIRECT_SCRIPT = `{ [ -z "$4" ] || chown -- "$4" "$1"; } && chmod -- "$3" "$1" && mv -f -- "$1" "$2" && exit 0
rc=$?; rm -f -- "$1"; exit $rc`;

/**
 * Become variant: the upload sits in the login user's home; as root, copy it next to the target,
 * set owner and mode, fsync, rename into place, and remove the upload either way.
 */
const INSTALL_STAGED_SCRIPT = `cp -- "$1" "$5" && { [ -z "$4" ] || chown -- "$4" "$5"; } && chmod -- "$3" "$5" && sync -- "$5" && mv -f -- "$5" "$2" && { rm -f -- "$1"; exit 0; }
rc=$?; rm -f -- "$5" "$1"; exit $rc`;

const METADATA_SCRIPT = `{ [ -z "$3" ] || chown -- "$3" "$1"; } && chmod -- "$2" "$1"`;

/**
 * Content in memory up to this size goes in one command, on its stdin: one round trip where a
 * state read, an SFTP upload and an install were several. Binaries stream over SFTP.
 */
const ONE_COMMAND_MAX_BYTES = 1024 * 1024;

/**
 * The one-command write. Arguments: target, temp path next to it, mode (octal, as stat prints
 * it), owner, group, chown argument, the content's sha256. Prints `same` (nothing to do), `meta`
 * (owner and mode set) or `written` (content installed: temp file from stdin, its sha256 checked,
 * owner and mode set, fsynced, renamed over the target); `dir` when the target is a directory.
 * stdin is always read to its end.
 */
const WRITE_SMALL_SCRIPT = `f=$1 t=$2 m=$3 o=$4 g=$5 c=$6 want=$7
if [ -d "$f" ]; then cat >/dev/null; echo dir; exit 0; fi
if [ -e "$f" ]; then
  h=$(sha256sum < "$f") || { cat >/dev/null; exit 1; }
  if [ "\${h%% *}" = "$want" ]; then
    cat >/dev/null
    set -- $(stat -L -c "%a %u %g %U %G" -- "$f")
    if [ "$1" = "$m" ] && { [ -z "$o" ] || [ "$o" = "$4" ] || [ "$o" = "$2" ]; } && { [ -z "$g" ] || [ "$g" = "$5" ] || [ "$g" = "$3" ]; }; then echo same; exit 0; fi
    { [ -z "$c" ] || chown -- "$c" "$f"; } && chmod -- "$m" "$f" && echo meta
    exit
  fi
fi
mkdir -p -- "$(dirname -- "$f")" || { cat >/dev/null; exit 1; }
cat > "$t" || { rc=$?; rm -f -- "$t"; exit $rc; }
h=$(sha256sum < "$t")
if [ "\${h%% *}" != "$want" ]; then rm -f -- "$t"; echo "the bytes received have sha256 \${h%% *}, not $want" >&2; exit 1; fi
{ [ -z "$c" ] || chown -- "$c" "$t"; } && chmod -- "$m" "$t" && sync -- "$t" && mv -f -- "$t" "$f" && { echo written; exit 0; }
rc=$?; rm -f -- "$t"; exit $rc`;

async function writeSmall(t: FileTransport, file: string, data: Buffer, sha256: string, spec: FileSpec): Promise<boolean> {
  const sent = createHash('sha256').update(data).digest('hex');
  if (sent !== sha256) throw changedSource(t, { remote: file, target: file, source: { kind: 'buffer', data }, sha256 }, sent);
  const temp = path.posix.join(path.posix.dirname(file), tempName(file));
  const mode = (spec.mode & 0o7777).toString(8);
  const r = await t.execRaw(shScript(WRITE_SMALL_SCRIPT, [file, temp, mode, spec.owner ?? '', spec.group ?? '', chownArg(spec), sha256], 'kprov-write'), data);
  t.countUploaded(data.length);
  const said = r.stdout.toString('utf8').trim();
  if (r.code !== 0) throw writeError(t, file, `writing ${file}`, r);
  if (said === 'dir') throw fail(t, `cannot write ${file}: it is a directory`);
  if (said !== 'same' && said !== 'meta' && said !== 'written') throw commandError(t, `writing ${file}`, r);
  return said !== 'same';
}

/** Content to write: bytes in memory or a local file streamed from disk. */
export type FileSource = { kind: 'buffer'; data: Buffer } | { kind: 'local'; path: string };

function tempName(file: string): string {
  const base = path.posix.basename(file).slice(0, 100);
  return `.${base}.kprov-${randomBytes(6).toString('hex')}`;
}

/**
 * Makes a remote file hold `source` with `spec`'s mode and owner. Returns false, writing nothing,
 * when sha256, mode and owner already match; fixes only mode/owner when the content matches.
 * `differs` (the caller saw other content there): small content goes in one command.
 */
export async function writeRemote(
  t: FileTransport,
  file: string,
  source: FileSource,
  sha256: string,
  spec: FileSpec,
  differs = false,
): Promise<boolean> {
  if (!path.posix.isAbsolute(file)) throw fail(t, `remote paths must be absolute: ${file}`);
  // Only content known to differ goes along: compared first, equal content is never sent.
  if (differs && source.kind === 'buffer' && source.data.length <= ONE_COMMAND_MAX_BYTES) return writeSmall(t, file, source.data, sha256, spec);
  const state = await remoteState(t, file);
  if (state.exists && state.sha256 === sha256) {
    if (metadataMatches(state, spec)) return false;
    const r = await t.execRaw(shScript(METADATA_SCRIPT, [file, modeArg(spec.mode), chownArg(spec)]));
    if (r.code !== 0) throw commandError(t, `setting owner and mode of ${file}`, r);
    return true;
  }
  const sftp = await t.sftp();
  const dir = path.posix.dirname(file);
  if (t.become) {
    const staged = path.posix.join(await t.sftpHome(), tempName(file));
    await sftpUpload(t, sftp, { remote: staged, target: file, source, sha256 });
    const r = await t.execRaw(
      shScript(INSTALL_STAGED_SCRIPT, [staged, file, modeArg(spec.mode), chownArg(spec), path.posix.join(dir, tempName(file))]),
    );
    if (r.code !== 0) throw writeError(t, file, `installing ${file}`, r);
  } else {
    const temp = path.posix.join(dir, tempName(file));
    await sftpUpload(t, sftp, { remote: temp, target: file, source, sha256 });
    const r = await t.execRaw(shScript(INSTALL_DIRECT_SCRIPT, [temp, file, modeArg(spec.mode), chownArg(spec)]));
    if (r.code !== 0) throw writeError(t, file, `installing ${file}`, r);
  }
  return true;
}

/** sha256 (hex) of a local file, streamed. */
export async function localSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Requests waiting on each SFTP channel. ssh2 never answers a request made on a closed channel,
 * nor, after an abrupt loss of the connection, one it still held: each is failed when its channel
 * closes, and one made on a closed channel fails at once.
 */
const waiting = new WeakMap<SFTPWrapper, Set<() => void>>();
const closedChannels = new WeakSet<SFTPWrapper>();

function waitersOf(sftp: SFTPWrapper): Set<() => void> {
  let set = waiting.get(sftp);
  if (!set) {
    const created = new Set<() => void>();
    set = created;
    waiting.set(sftp, created);
    sftp.once('close', () => {
      closedChannels.add(sftp);
      for (const fail of [...created]) fail();
      created.clear();
    });
  }
  return set;
}

export function sftpCall<T>(t: Pick<FileTransport, 'name'>, sftp: SFTPWrapper, what: string, run: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  const waiters = waitersOf(sftp);
  return new Promise((resolve, reject) => {
    const gone = () => reject(fail(t, `${what}: the SFTP channel closed (the connection to the host was lost)`));
    if (closedChannels.has(sftp)) return gone();
    waiters.add(gone);
    try {
      run((err, value) => {
        waiters.delete(gone);
        if (err) reject(fail(t, `${what}: ${err.message}`, err));
        else resolve(value);
      });
    } catch (err) {
      waiters.delete(gone);
      reject(fail(t, `${what}: ${(err as Error).message}`, err));
    }
  });
}

/** One upload: the remote temp file written, the file it becomes, and the bytes promised. */
interface Upload {
  remote: string;
  /** The final path, as messages name it. */
  target: string;
  source: FileSource;
  /** sha256 the caller promised (and the host's state was compared with). */
  sha256: string;
}

async function sourceSize(source: FileSource): Promise<number> {
  return source.kind === 'buffer' ? source.data.length : (await stat(source.path)).size;
}

/**
 * Writes a new remote file (exclusive create, 0600) with several writes in flight, fsyncs it
 * (OpenSSH's fsync@openssh.com) and closes it. The bytes are hashed as they are sent: when they
 * are not what was promised (a local file changed or rotted since it was verified) the upload is
 * refused. Removes the remote file again if anything fails; a generic SFTP failure is checked
 * against the free space first, so a full disk is reported as such.
 */
async function sftpUpload(t: FileTransport, sftp: SFTPWrapper, upload: Upload): Promise<void> {
  const { remote, source } = upload;
  const size = await sourceSize(source).catch(() => 0);
  const handle = await sftpCall<Buffer>(t, sftp, `creating ${remote}`, (cb) => sftp.open(remote, 'wx', { mode: 0o600 }, cb)).catch(
    async (err: unknown) => {
      throw await explainFailure(t, upload, err, size);
    },
  );
  const hash = createHash('sha256');
  let position = 0;
  let written = 0;
  const inFlight = new Set<Promise<void>>();
  let firstError: unknown;
  const writeChunk = (chunk: Buffer) => {
    const at = position;
    position += chunk.length;
    const p = sftpCall<unknown>(t, sftp, `writing ${remote}`, (cb) => sftp.write(handle, chunk, 0, chunk.length, at, (err) => cb(err, undefined)))
      .then(() => {
        written += chunk.length;
        t.countUploaded(chunk.length);
      })
      .catch((err: unknown) => {
        firstError ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  try {
    const chunks: AsyncIterable<Buffer> | Iterable<Buffer> =
      source.kind === 'buffer'
        ? splitBuffer(source.data)
        : (createReadStream(source.path, { highWaterMark: WRITE_CHUNK }) as AsyncIterable<Buffer>);
    for await (const chunk of chunks) {
      if (firstError) break;
      hash.update(chunk);
      writeChunk(chunk);
      if (inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (firstError) throw firstError;
    const sent = hash.digest('hex');
    if (sent !== upload.sha256) throw changedSource(t, upload, sent);
    await sftpCall<unknown>(t, sftp, `fsync ${remote}`, (cb) => sftp.ext_openssh_fsync(handle, (err: Error | undefined) => cb(err, undefined)));
  } catch (err) {
    await Promise.allSettled(inFlight);
    // Asked while the partial file still takes its space.
    const failure = await explainFailure(t, upload, err, size - written);
    await sftpCall<unknown>(t, sftp, `closing ${remote}`, (cb) => sftp.close(handle, (err2) => cb(err2, undefined))).catch(() => undefined);
    await sftpCall<unknown>(t, sftp, `removing ${remote}`, (cb) => sftp.unlink(remote, (err2) => cb(err2, undefined))).catch(() => undefined);
    throw failure;
  }
  await sftpCall<unknown>(t, sftp, `closing ${remote}`, (cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(async (err: unknown) => {
    // A file system that allocates late may refuse at close; the file is useless then.
    const failure = await explainFailure(t, upload, err, 0);
    await sftpCall<unknown>(t, sftp, `removing ${remote}`, (cb) => sftp.unlink(remote, (err2) => cb(err2, undefined))).catch(() => undefined);
    throw failure;
  });
}

/** The error an upload failure is reported as: a full disk when the host's free space says so. */
async function explainFailure(t: FileTransport, upload: Upload, err: unknown, bytesLeft: number): Promise<KprovError> {
  const cause = err instanceof KprovError && err.cause !== undefined ? err.cause : err;
  if (mayBeNoSpace(cause)) {
    const dir = path.posix.dirname(upload.remote);
    if (await spaceIsShort(t, dir, bytesLeft, WRITE_CHUNK)) {
      return noSpaceError(t.name, upload.target, dir === path.posix.dirname(upload.target) ? undefined : dir);
    }
  }
  return err instanceof KprovError ? err : fail(t, `uploading ${upload.remote}: ${(err as Error).message}`, err);
}

function changedSource(t: FileTransport, upload: Upload, sent: string): KprovError {
  const what = upload.source.kind === 'local' ? upload.source.path : 'the content';
  return new KprovError('io', `uploading ${what} to ${upload.target}: the bytes read had sha256 ${sent}, not the promised ${upload.sha256}; nothing was installed`, {
    host: t.name,
    hint: 'the local file changed or is damaged; the next run verifies the kprov cache and fetches it again',
    exitCode: ExitCode.hostFailed,
  });
}

function* splitBuffer(data: Buffer): Iterable<Buffer> {
  for (let at = 0; at < data.length; at += WRITE_CHUNK) yield data.subarray(at, at + WRITE_CHUNK);
}
