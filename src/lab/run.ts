/** Runs the system tools the lab is made of; a failure becomes a KprovError naming the command. */
import { execa } from 'execa';
import { KprovError } from '../errors.js';

export interface RunOptions {
  input?: string | Buffer;
  /** Bounded: every tool the lab runs has a time limit. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Do not throw on a non-zero exit status. */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const DEFAULT_TIMEOUT_MS = 60_000;

export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await execa(command, args, {
    reject: false,
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    // Secrets are only ever passed through input; argv shows up in `ps`.
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    env: options.env ?? process.env,
    extendEnv: false,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    stripFinalNewline: true,
  });
  const code = typeof result.exitCode === 'number' ? result.exitCode : 128;
  const out: RunResult = { code, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
  if (result.timedOut) {
    throw new KprovError('lab', `${command} ${args.join(' ')} did not finish within ${(options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s`);
  }
  if (result.failed && result.exitCode === undefined) {
    throw new KprovError('lab', `cannot run ${command}: ${result.shortMessage ?? 'unknown error'}`);
  }
  if (code !== 0 && !options.allowFailure) {
    const detail = lastLines(out.stderr || out.stdout, 3);
    throw new KprovError('lab', `${command} ${args.join(' ')} exited with ${code}${detail ? `: ${detail}` : ''}`);
  }
  return out;
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}
