/**
 * SIGINT/SIGTERM during `kprov apply`: the first stops the run cleanly (the engine's AbortSignal:
 * nothing new starts, steps under way get a bounded grace, the run log gets its last event, the
 * locks are released, exit 130); a second exits at once, after removing the inventory lock.
 *
 * A run re-executed inside a lab's namespace is a child of the kprov the user (or `timeout`,
 * systemd, a CI runner) signals. That parent passes each signal on as SIGUSR2, so that a signal
 * the child also got directly — Ctrl-C reaches the terminal's whole process group, systemd signals
 * a unit's every process — counts once: the child counts direct and passed-on signals apart and
 * acts on the larger count. It also stops (once, never at once) when its parent is gone.
 */
import { SIGNALS_FROM_PARENT_ENV } from '../lab/signal-forward.js';

type Watched = 'SIGINT' | 'SIGTERM' | 'SIGUSR2';

/** The parts of `process` the watcher uses (tests pass an EventEmitter). */
export interface SignalProcess {
  on(event: Watched, listener: () => void): unknown;
  removeListener(event: Watched, listener: () => void): unknown;
  readonly ppid: number;
}

export interface Interrupts {
  /** Aborted at the first interrupt, with the signal's name as the reason. */
  readonly signal: AbortSignal;
  /** Run (synchronously) before exiting at a second signal: removing the inventory lock. */
  beforeForcedExit(fn: () => void): void;
  dispose(): void;
}

export interface WatchOptions {
  process: SignalProcess;
  /** One line to the user (stderr). */
  notice(text: string): void;
  exit(code: number): void;
  /** This process was re-executed by a kprov that passes its signals on. */
  fromParent: boolean;
  /** How long steps under way may take after the first signal (for the message). */
  graceMs: number;
  /** How often a child looks whether its parent is still there. */
  parentPollMs?: number;
}

export function watchInterrupts(options: WatchOptions): Interrupts {
  const { process: proc, notice } = options;
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  let direct = 0;
  let passedOn = 0;
  let acted = 0;

  const act = (name: string): void => {
    const count = Math.max(direct, passedOn);
    if (count <= acted) return; // the same interrupt, seen both directly and from the parent
    acted = count;
    if (count === 1) {
      notice(`kprov: ${name}: stopping: no new task starts, steps under way get up to ${Math.round(options.graceMs / 1000)} s; send it again to stop at once`);
      controller.abort(name);
      return;
    }
    notice(`kprov: ${name} again: stopping at once; host locks stay until the next run takes them over`);
    for (const fn of cleanups) {
      try {
        fn();
      } catch {
        // Exiting anyway.
      }
    }
    options.exit(130);
  };

  const onInt = () => {
    direct += 1;
    act('SIGINT');
  };
  const onTerm = () => {
    direct += 1;
    act('SIGTERM');
  };
  const onParent = () => {
    passedOn += 1;
    act('signal to kprov');
  };
  proc.on('SIGINT', onInt);
  proc.on('SIGTERM', onTerm);
  let poll: NodeJS.Timeout | undefined;
  if (options.fromParent) {
    proc.on('SIGUSR2', onParent);
    const parent = proc.ppid;
    poll = setInterval(() => {
      if (proc.ppid === parent || controller.signal.aborted) return;
      // The parent was killed outright (SIGKILL): stop cleanly, as for a first signal.
      passedOn = Math.max(passedOn, 1);
      act('the kprov that started this run is gone');
    }, options.parentPollMs ?? 500);
    poll.unref();
  }

  return {
    signal: controller.signal,
    beforeForcedExit: (fn) => cleanups.push(fn),
    dispose: () => {
      proc.removeListener('SIGINT', onInt);
      proc.removeListener('SIGTERM', onTerm);
      proc.removeListener('SIGUSR2', onParent);
      if (poll) clearInterval(poll);
    },
  };
}

/** The watcher for this process (the real CLI). */
export function watchProcessInterrupts(notice: (text: string) => void, env: NodeJS.ProcessEnv, graceMs: number): Interrupts {
  return watchInterrupts({
    process,
    notice,
    exit: (code) => process.exit(code),
    fromParent: env[SIGNALS_FROM_PARENT_ENV] === '1',
    graceMs,
  });
}
