/**
 * The failure policy of one play (or serial batch), shared by its hosts: `any_errors_fatal` and
 * `max_fail_percentage` decide when one host's failure stops the others and the playbook. Without
 * either, a failed host just drops out and the others go on (Ansible's default).
 */
import type { Play } from './playbook.js';

export class PlayControl {
  /** Set once the play must stop: hosts finish their current task and start no other. */
  aborted = false;
  /** Why, for the tasks skipped because of it and the plays after. */
  reason = '';
  private readonly failedNow = new Set<string>();

  /**
   * @param targeted how many hosts the play has (after --limit)
   * @param failedBefore the play's hosts that had already failed when this batch started
   */
  constructor(
    private readonly play: Pick<Play, 'name' | 'anyErrorsFatal' | 'maxFailPercentage'>,
    private readonly targeted: number,
    private readonly failedBefore: readonly string[],
  ) {}

  /** A host of the batch failed or was unreachable, in a task or a handler (counted once). */
  hostFailed(host: string): void {
    this.failedNow.add(host);
    if (this.aborted) return;
    if (this.play.anyErrorsFatal) this.abort('any_errors_fatal');
    else if (tooMany(this.failedBefore.length + this.failedNow.size, this.targeted, this.play.maxFailPercentage)) {
      this.abort(`max_fail_percentage ${this.play.maxFailPercentage}`);
    }
  }

  private abort(keyword: string): void {
    this.aborted = true;
    this.reason = `another host failed (${keyword})`;
  }

  /** Why the playbook must stop after this play, or undefined when it goes on. */
  stopReason(): string | undefined {
    if (!this.aborted) return undefined;
    const keyword = this.play.anyErrorsFatal ? 'any_errors_fatal' : `max_fail_percentage ${this.play.maxFailPercentage}`;
    return `play "${this.play.name}" failed on ${[...this.failedNow].join(', ')} (${keyword})`;
  }
}

/** More than `percent` of `total` hosts failed (Ansible's comparison: strictly more). */
export function tooMany(failed: number, total: number, percent: number | undefined): boolean {
  if (percent === undefined || failed === 0 || total === 0) return false;
  return (failed * 100) / total > percent;
}
