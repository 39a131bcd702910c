import path from 'node:path';

/**
 * Errors kprov reports to users. Library code throws or returns these; only the CLI prints them,
 * in one or two lines and without a stack trace.
 */

/** Exit codes shared by every command. */
export const ExitCode = {
  ok: 0,
  /** The run reached hosts and at least one host failed. */
  hostFailed: 1,
  /** Bad input or usage, or another run holds the lock: nothing was changed on any host. */
  badInput: 2,
  /** SIGINT/SIGTERM stopped the run (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;

export type ErrorCode =
  | 'usage'
  | 'inventory'
  | 'config'
  | 'template'
  | 'io'
  | 'lab'
  | 'ssh'
  | 'host'
  | 'artifact'
  | 'pki'
  /** Another run holds the inventory's or a host's lock. */
  | 'lock'
  /**
   * What a host holds makes the run wrong, found before anything changed (a cluster that runs
   * another Kubernetes version than `apply cluster` would install): the run stops, exit 2.
   */
  | 'refused'
  | 'internal';

/** Where in an input file a problem was found. Lines and columns count from 1. */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
}

export interface KprovErrorOptions {
  location?: SourceLocation;
  host?: string;
  /** A second line telling the user what to do about it. */
  hint?: string;
  exitCode?: number;
  cause?: unknown;
}

export class KprovError extends Error {
  readonly code: ErrorCode;
  readonly location: SourceLocation | undefined;
  readonly host: string | undefined;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: KprovErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KprovError';
    this.code = code;
    this.location = options.location;
    this.host = options.host;
    this.hint = options.hint;
    this.exitCode =
      options.exitCode ?? (code === 'host' || code === 'ssh' ? ExitCode.hostFailed : ExitCode.badInput);
  }
}

/**
 * Several problems found in one pass over an input (every bad variable of an inventory): the CLI
 * prints them all, so a user fixes them in one round instead of one per run.
 */
export class KprovErrorList extends KprovError {
  readonly errors: readonly KprovError[];

  constructor(errors: readonly KprovError[]) {
    const first = errors[0];
    if (!first) throw new Error('KprovErrorList needs at least one error');
    super(first.code, errors.length === 1 ? first.message : `${errors.length} problems; the first: ${first.message}`, {
      ...(first.location ? { location: first.location } : {}),
      exitCode: first.exitCode,
    });
    this.name = 'KprovErrorList';
    this.errors = errors;
  }
}

/** Throws `errors` as one error (the error itself when there is only one); returns when there are none. */
export function throwAll(errors: readonly KprovError[]): void {
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new KprovErrorList(errors);
}

/** `file:line:col` as editors and compilers print it. */
export function formatLocation(loc: SourceLocation): string {
  let out = loc.file;
  if (loc.line !== undefined) {
    out += `:${loc.line}`;
    if (loc.column !== undefined) out += `:${loc.column}`;
  }
  return out;
}

/** The one or two lines the CLI prints for an error; files under `cwd` are shown relative to it. */
export function formatError(err: KprovError, cwd?: string): string {
  if (err instanceof KprovErrorList) {
    return [...err.errors.map((e) => formatError(e, cwd)), `${err.errors.length} problems found; fix them all and run again`].join('\n');
  }
  const loc = err.location && cwd ? { ...err.location, file: relativeToCwd(err.location.file, cwd) } : err.location;
  const where = loc ? `${formatLocation(loc)}: ` : '';
  const host = err.host ? `[${err.host}] ` : '';
  const first = `error: ${host}${where}${err.message}`;
  return err.hint ? `${first}\n  ${err.hint}` : first;
}

function relativeToCwd(file: string, cwd: string): string {
  if (!path.isAbsolute(file)) return file;
  const rel = path.relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

export function isKprovError(value: unknown): value is KprovError {
  return value instanceof KprovError;
}
