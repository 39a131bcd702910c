/**
 * Runs kprov again in another place (a lab's network namespace) as a child with this process's
 * stdio, and makes a signal to this process reach it: `timeout`, systemd and CI runners signal
 * the PID they started, which is this one. Each SIGINT/SIGTERM is passed on as SIGUSR2, which the
 * child (told by SIGNALS_FROM_PARENT_ENV) counts apart from the signals it gets directly
 * (src/cli/interrupts.ts), so one Ctrl-C that reaches both processes counts once. This process
 * then waits for the child and exits with its code.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export const SIGNALS_FROM_PARENT_ENV = 'KPROV_SIGNALS_FROM_PARENT';

type Forwarded = 'SIGINT' | 'SIGTERM';

/** The parts of `process` used (tests pass an EventEmitter). */
export interface ForwardingProcess {
  on(event: Forwarded, listener: () => void): unknown;
  removeListener(event: Forwarded, listener: () => void): unknown;
}

export interface PassingOptions {
  env?: NodeJS.ProcessEnv;
  process?: ForwardingProcess;
  /** Called when the child cannot be started. */
  onSpawnError(err: Error): Error;
}

/** Exit code as a shell reports it: the child's, or 128 + its signal (130 when it died of a passed-on interrupt). */
export function runPassingSignals(command: string, args: readonly string[], options: PassingOptions): Promise<number> {
  const proc = options.process ?? process;
  const child = spawn(command, [...args], { stdio: 'inherit', env: { ...(options.env ?? process.env), [SIGNALS_FROM_PARENT_ENV]: '1' } });
  return new Promise<number>((resolve, reject) => {
    let received = 0;
    const onSignal = () => {
      received += 1;
      // A third one: the child does not end even though it was told twice; stop waiting for it.
      if (received > 2) return finish(130);
      child.kill('SIGUSR2');
    };
    const finish = (code: number) => {
      proc.removeListener('SIGINT', onSignal);
      proc.removeListener('SIGTERM', onSignal);
      resolve(code);
    };
    proc.on('SIGINT', onSignal);
    proc.on('SIGTERM', onSignal);
    child.on('error', (err) => {
      proc.removeListener('SIGINT', onSignal);
      proc.removeListener('SIGTERM', onSignal);
      reject(options.onSpawnError(err));
    });
    child.on('exit', (code, signal) => {
      // Killed by SIGUSR2 before it listened for it (still starting up): it was interrupted.
      if (signal === 'SIGUSR2') return finish(130);
      finish(code ?? 128 + (signal ? (constants.signals[signal] ?? 1) : 0));
    });
  });
}
