/**
 * Bounded waiting, for health checks: a probe is retried at an interval until it succeeds, with
 * both the number of attempts and the elapsed time capped. Never an unbounded loop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HostLostError } from '../ssh/errors.js';

export interface WaitOptions {
  /** What is awaited, for the error message (e.g. `etcd.service to be active`). */
  what: string;
  timeoutMs: number;
  intervalMs: number;
}

export class WaitTimeoutError extends Error {
  readonly attempts: number;
  readonly last: string | undefined;
  constructor(what: string, timeoutMs: number, attempts: number, last: string | undefined) {
    super(`timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}${last ? ` (last: ${last})` : ''}`);
    this.name = 'WaitTimeoutError';
    this.attempts = attempts;
    this.last = last;
  }
}

/**
 * Calls `probe` until it returns a value other than undefined. A probe that throws counts as not
 * ready yet (its message is kept for the timeout error), except when the host itself is lost:
 * waiting cannot make a host answer whose connection could not be opened again.
 */
export async function waitUntil<T>(probe: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const started = Date.now();
  const maxAttempts = Math.max(1, Math.ceil(options.timeoutMs / Math.max(1, options.intervalMs)) + 1);
  let last: string | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = undefined;
    } catch (err) {
      if (err instanceof HostLostError) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    const left = options.timeoutMs - (Date.now() - started);
    if (left <= 0 || attempt === maxAttempts) {
      throw new WaitTimeoutError(options.what, options.timeoutMs, attempt, last);
    }
    await sleep(Math.min(options.intervalMs, left));
  }
  throw new WaitTimeoutError(options.what, options.timeoutMs, maxAttempts, last);
}
