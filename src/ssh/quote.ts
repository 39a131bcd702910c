/**
 * POSIX shell quoting for remote commands. sshd hands the command line to the login user's shell,
 * so every argument is quoted here and never pasted: a file name with a quote, `$`, a backtick or a
 * newline stays one literal argument.
 */
import { KprovError } from '../errors.js';

/** Characters that mean nothing to a POSIX shell anywhere in a word. `=` and `~` are left out on
 * purpose: `A=b` as the first word is an assignment and a leading `~` expands. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+:,./-]+$/;

/** One argument as a shell word: plain words stay readable, everything else is single-quoted. */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) {
    throw new KprovError('internal', 'a remote command argument contains a NUL byte, which no shell can pass');
  }
  if (PLAIN_WORD.test(arg)) return arg;
  // Inside single quotes nothing is special except the quote itself: close, add \', reopen.
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An argv array as one command line for `sh -c` (what sshd runs). */
export function commandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new KprovError('internal', 'empty remote command');
  return argv.map(shellQuote).join(' ');
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Prefixes argv with `env K=V …`: sshd drops most client-sent variables (AcceptEnv). */
export function withEnv(argv: readonly string[], env: Readonly<Record<string, string>> | undefined): string[] {
  const names = env ? Object.keys(env) : [];
  if (!env || names.length === 0) return [...argv];
  const assignments = names.sort().map((name) => {
    if (!ENV_NAME.test(name)) throw new KprovError('internal', `invalid environment variable name "${name}"`);
    return `${name}=${env[name] ?? ''}`;
  });
  return ['env', ...assignments, ...argv];
}

/**
 * Runs argv as another user through sudo: `-n` never waits for a password (a missing NOPASSWD
 * rule fails at once instead of hanging), `-H` sets HOME to the target user's, and `--` ends
 * sudo's options so argv[0] can never be taken for one.
 */
export function becomeArgv(argv: readonly string[], user: string): string[] {
  return ['sudo', '-n', '-H', '-u', user, '--', ...argv];
}

/** argv that runs a POSIX sh script with positional parameters ($1, $2 …) bound to args. */
export function shScript(script: string, args: readonly string[] = [], name = 'kprov'): string[] {
  return ['sh', '-c', script, name, ...args];
}
