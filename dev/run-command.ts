/** Runs a command bounded in time and hands back its exit code and output, whatever the exit code. */
import { execa } from 'execa';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOpts {
  input?: string;
  /** Bounded; default 60 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs argv, bounded in time; resolves on any exit status. */
export async function runCommand(cmd: readonly string[], opts: RunOpts = {}): Promise<CommandResult> {
  const [file, ...args] = cmd;
  const r = await execa(file!, args, {
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    env: opts.env ?? process.env,
    extendEnv: false,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  return { code: typeof r.exitCode === 'number' ? r.exitCode : 128, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}
