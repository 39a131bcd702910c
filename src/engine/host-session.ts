/**
 * One host for the whole run: its single connection (opened on first use, reused by every play,
 * task and handler), its facts (read once, on first use), what the run changed on it, its recap
 * counters, and how far it got (for what the run leaves to the next one).
 */
import type { InventoryHost } from '../inventory/model.js';
import type { HostFacts } from './contract.js';
import type { RemoteHost } from '../ssh/types.js';
import { UnreachableError } from './errors.js';
import type { HostRecap } from './events.js';
import type { Connector } from './executor.js';
import type { HostLock } from './host-lock.js';
import { HostState } from './host-state.js';

export class HostSession {
  readonly host: InventoryHost;
  readonly state = new HostState();
  readonly recap: HostRecap;
  private connection: Promise<RemoteHost> | undefined;
  private opened: RemoteHost | undefined;
  private factsPromise: Promise<HostFacts> | undefined;
  private failed = false;
  private unreachable = false;
  /** Where the host dropped out: the play and the step that failed. */
  failure: { play: string; step: string } | undefined;
  /** Plays whose tasks all ran on the host. */
  readonly donePlays = new Set<string>();
  /** Handlers notified on the host that did not run, as `play: handler`. */
  readonly unrunHandlers: string[] = [];
  /** Where a stop of the run found the host in the middle of its work: `play: step`. */
  interruptedAt: string | undefined;

  constructor(
    host: InventoryHost,
    private readonly connector: Connector,
    private readonly gather: (host: RemoteHost) => Promise<HostFacts>,
    /** The run's lock on this host (none in a dry run). */
    readonly lock?: HostLock,
  ) {
    this.host = host;
    this.recap = { host: host.name, ok: 0, changed: 0, failed: 0, unreachable: 0, skipped: 0 };
  }

  /** Neither failed nor unreachable so far in this run. */
  get usable(): boolean {
    return !this.failed && !this.unreachable;
  }

  get connected(): boolean {
    return this.opened !== undefined;
  }

  /** The host's connection; a failure to connect rejects with UnreachableError, every time. */
  connect(): Promise<RemoteHost> {
    this.connection ??= this.connector.connect(this.host).then(
      (remote) => {
        this.opened = remote;
        return remote;
      },
      (err: unknown) => {
        throw new UnreachableError(this.host.name, err);
      },
    );
    return this.connection;
  }

  facts(): Promise<HostFacts> {
    this.factsPromise ??= this.connect().then((remote) => this.gather(remote));
    return this.factsPromise;
  }

  get isUnreachable(): boolean {
    return this.unreachable;
  }

  markFailed(at?: { play: string; step: string }): void {
    if (this.failed) return;
    this.failed = true;
    this.recap.failed = 1;
    this.failure ??= at;
  }

  markUnreachable(at?: { play: string; step: string }): void {
    if (this.unreachable) return;
    this.unreachable = true;
    this.recap.unreachable = 1;
    this.failure ??= at;
  }

  /** The host's lock is held before its first change (see host-lock.ts). */
  async beforeChange(remote: RemoteHost): Promise<void> {
    await this.lock?.ensure(remote);
  }

  /** Releases the host's lock, if this run took it. */
  async releaseLock(): Promise<void> {
    if (!this.lock?.isHeld || !this.opened) return;
    await this.lock.release(this.opened);
  }

  async close(): Promise<void> {
    const remote = this.opened;
    this.opened = undefined;
    if (remote) await remote.close();
  }
}
