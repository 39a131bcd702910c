/**
 * Stopping a run early and cleanly: after an interrupt (the caller's AbortSignal: SIGINT/SIGTERM
 * in the CLI) or a refusal (another run holds a host's lock), no new play, host, task or handler
 * starts, and the steps already running on hosts get `graceMs` to end. A step still running then
 * is abandoned: its host is reported interrupted and the run finishes anyway (the remote command
 * ends by itself, bounded by its own timeout on the host).
 */

import type { KprovError } from '../errors.js';

/** The step was still running when the grace after a stop ran out. */
export class StepAbandonedError extends Error {
  constructor(graceMs: number) {
    super(`abandoned: still running ${Math.round(graceMs / 1000)} s after the run was stopped (it may still finish on the host)`);
    this.name = 'StepAbandonedError';
  }
}

export type StopKind = 'interrupted' | 'refused';

export const DEFAULT_GRACE_MS = 30_000;

export class RunStop {
  private stopped: { reason: string; kind: StopKind } | undefined;
  private refusal: KprovError | undefined;
  private expired = false;
  private timer: NodeJS.Timeout | undefined;
  /** Rejecters of the steps in flight, called when the grace runs out. */
  private readonly inFlight = new Set<() => void>();
  private readonly onAbort: () => void;

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly graceMs: number,
    /** Told once, when the run is first asked to stop. */
    private readonly onStop: (reason: string, kind: StopKind) => void,
  ) {
    this.onAbort = () => this.request(abortReason(signal), 'interrupted');
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get requested(): boolean {
    return this.stopped !== undefined;
  }

  /** Why the run stops (`interrupted (SIGTERM)`, or the refusal's message); empty while it goes on. */
  get reason(): string {
    return this.stopped?.reason ?? '';
  }

  get kind(): StopKind | undefined {
    return this.stopped?.kind;
  }

  get grace(): number {
    return this.graceMs;
  }

  /** Another run holds a lock this run needs: stop, and keep the error for the caller. */
  refuse(error: KprovError): void {
    this.refusal ??= error;
    this.request(error.message, 'refused');
  }

  /** The refusal that stopped the run, if one did. */
  get refusedBy(): KprovError | undefined {
    return this.refusal;
  }

  /** The first request wins; the grace for the steps in flight starts now. */
  request(reason: string, kind: StopKind): void {
    if (this.stopped) return;
    this.stopped = { reason, kind };
    this.onStop(reason, kind);
    this.timer = setTimeout(() => this.expire(), this.graceMs);
  }

  /** Settles as `work` does, unless the grace after a stop runs out first. */
  bounded<T>(work: Promise<T>): Promise<T> {
    if (this.expired) {
      work.catch(() => undefined);
      return Promise.reject(new StepAbandonedError(this.graceMs));
    }
    return new Promise<T>((resolve, reject) => {
      const abandon = () => {
        work.catch(() => undefined);
        reject(new StepAbandonedError(this.graceMs));
      };
      this.inFlight.add(abandon);
      work.then(
        (value) => {
          this.inFlight.delete(abandon);
          resolve(value);
        },
        (err: unknown) => {
          this.inFlight.delete(abandon);
          reject(err);
        },
      );
    });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  private expire(): void {
    this.expired = true;
    for (const abandon of this.inFlight) abandon();
    this.inFlight.clear();
  }
}

function abortReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  const what = typeof reason === 'string' ? reason : reason instanceof Error && reason.name !== 'AbortError' ? reason.message : '';
  return what === '' ? 'interrupted' : `interrupted (${what})`;
}
