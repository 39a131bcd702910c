/**
 * v1.13's flowcontrol.Backoff as the kubelet uses it for crash loops and image pulls: the first
 * failure is retried at once, then 10 s, 20 s, 40 s … up to 5 min, counted from the failure; an
 * entry not touched for twice the maximum starts over.
 */
export class Backoff {
  private readonly entries = new Map<string, { delayMs: number; lastUpdateMs: number }>();

  constructor(
    private readonly initialMs = 10_000,
    private readonly maxMs = 300_000,
    private readonly now: () => number = Date.now,
  ) {}

  private expired(eventMs: number, lastUpdateMs: number): boolean {
    return eventMs - lastUpdateMs > 2 * this.maxMs;
  }

  /** Milliseconds still to wait after a failure at `eventMs`, or 0 when a retry may go ahead. */
  remaining(key: string, eventMs: number): number {
    const e = this.entries.get(key);
    if (!e || this.expired(eventMs, e.lastUpdateMs)) return 0;
    return Math.max(0, eventMs + e.delayMs - this.now());
  }

  /** Milliseconds still to wait since the last recorded retry (v1.13 IsInBackOffSinceUpdate, used for image pulls). */
  remainingSinceUpdate(key: string): number {
    const e = this.entries.get(key);
    if (!e || this.expired(this.now(), e.lastUpdateMs)) return 0;
    return Math.max(0, e.lastUpdateMs + e.delayMs - this.now());
  }

  /** The current delay for `key` (for messages: `Back-off 10s restarting failed container`). */
  delayMs(key: string): number {
    return this.entries.get(key)?.delayMs ?? 0;
  }

  /** Records a retry: the next failure waits the doubled delay. */
  next(key: string, eventMs: number): void {
    const e = this.entries.get(key);
    const delayMs = !e || this.expired(eventMs, e.lastUpdateMs) ? this.initialMs : Math.min(e.delayMs * 2, this.maxMs);
    this.entries.set(key, { delayMs, lastUpdateMs: this.now() });
  }

  /** Forgets keys that no longer name anything (pods gone). */
  retain(keep: (key: string) => boolean): void {
    for (const k of this.entries.keys()) if (!keep(k)) this.entries.delete(k);
  }
}

/** `10s`, `1m20s`, `5m0s`: Go's time.Duration.String for whole seconds. */
export function goSeconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}
