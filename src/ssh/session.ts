/**
 * One authenticated ssh2 connection: bounded command execution on session channels and one SFTP
 * channel reused for every transfer.
 */
import { constants as osConstants } from 'node:os';
import type { Duplex } from 'node:stream';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { KprovError } from '../errors.js';
import type { LoginMethod } from './events.js';

/** Raw result of a remote command, output as bytes. */
export interface RawResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

/**
 * Commands running at once on one connection. sshd's MaxSessions (default 10) counts session
 * channels, the SFTP one included, and sshd frees a closed channel's slot only some time after
 * it reported the channel closed: a client that opens a new channel as soon as one closes meets
 * "open failed" with fewer than 10 open on its side (measured against a lab host with a bare ssh2
 * client, 800 short commands: at most 8 open at once, 108 opens refused; at most 6, 2 refused).
 * So commands are queued to 6 at a time, and a refused open is tried again (see openChannel).
 */
const MAX_CHANNELS = 6;
/** Bounded retries of a channel sshd refused for lack of a free session slot. */
const OPEN_ATTEMPTS = 25;
const OPEN_RETRY_MAX_MS = 100;

/** The connection died before the command could start, so it is safe to run it again elsewhere. */
export class NotStartedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotStartedError';
  }
}

/** SSH_OPEN_ADMINISTRATIVELY_PROHIBITED: how OpenSSH refuses a session beyond MaxSessions ("open failed"). */
const OPEN_REFUSED = 1;

function refusedOpen(err: Error & { reason?: unknown }): boolean {
  return err.reason === OPEN_REFUSED || /open failed/.test(err.message);
}

/** A promise and the function that settles it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class Session {
  private dead: string | undefined;
  private sftpChannel: Promise<SFTPWrapper> | undefined;
  private readonly channels: LimitFunction = pLimit(MAX_CHANNELS);
  /** Settled (and replaced) whenever one of this connection's channels closes. */
  private closedChannel = signal();

  constructor(
    readonly host: string,
    readonly client: Client,
    readonly method: LoginMethod,
  ) {
    // An 'error' without a listener would crash the process; the 'close' that follows marks the session dead.
    client.on('error', (err: Error) => {
      this.dead ??= err.message;
    });
    client.on('close', () => {
      this.dead ??= 'connection closed';
      this.sftpChannel = undefined;
    });
  }

  /** Why the connection is gone, or undefined while it is usable. */
  get closedReason(): string | undefined {
    return this.dead;
  }

  /** Runs a command line; `shown` is how messages name it (default: the line itself). */
  exec(command: string, stdin: string | Buffer | undefined, timeoutMs: number, shown = command): Promise<RawResult> {
    return this.channels(() => this.execNow(command, stdin, timeoutMs, shown));
  }

  private async execNow(command: string, stdin: string | Buffer | undefined, timeoutMs: number, shown: string): Promise<RawResult> {
    try {
      // collect listens from the moment the channel opens: its output and exit status may arrive
      // in the same packet batch as the open confirmation.
      return await this.openChannel<ClientChannel, RawResult>(shown, (done) => this.client.exec(command, done), (stream) => this.collect(stream, shown, stdin, timeoutMs));
    } finally {
      this.channelClosed();
    }
  }

  private channelClosed(): void {
    this.closedChannel.resolve();
    this.closedChannel = signal();
  }

  /**
   * Opens a session channel. sshd refuses one while all its session slots are taken (some still
   * held for channels that just closed): that open is tried again once another channel of this
   * connection closes, or after a short pause, a bounded number of times. The command has not
   * started then, so trying again is safe.
   */
  private async openChannel<T, R>(
    what: string,
    open: (done: (err: Error | undefined, channel: T) => void) => void,
    use: (channel: T) => Promise<R>,
  ): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      if (this.dead) throw new NotStartedError(this.dead);
      let opened: { result: Promise<R> };
      try {
        opened = await new Promise<{ result: Promise<R> }>((resolve, reject) => {
          try {
            // `use` runs inside the callback, before ssh2 emits anything else for the channel.
            open((err, channel) => (err ? reject(err) : resolve({ result: use(channel) })));
          } catch (err) {
            reject(new NotStartedError((err as Error).message));
          }
        });
      } catch (err) {
        if (err instanceof NotStartedError) throw err;
        const e = err as Error & { reason?: unknown };
        // On a dead connection the command never ran.
        if (this.dead || /No response from server|Not connected/.test(e.message)) throw new NotStartedError(e.message);
        if (!refusedOpen(e)) throw new KprovError('ssh', `cannot start ${what}: ${e.message}`, { host: this.host });
        if (attempt >= OPEN_ATTEMPTS) {
          throw new KprovError('ssh', `cannot start ${what}: sshd refused a new session channel ${attempt} times (${e.message})`, {
            host: this.host,
            hint: "is MaxSessions in the host's sshd_config lower than 7?",
          });
        }
        const pause = new Promise<void>((r) => setTimeout(r, Math.min(OPEN_RETRY_MAX_MS, 5 * attempt)).unref());
        await Promise.race([this.closedChannel.promise, pause]);
        continue;
      }
      return opened.result;
    }
  }

  private collect(
    stream: ClientChannel,
    command: string,
    stdin: string | Buffer | undefined,
    timeoutMs: number,
  ): Promise<RawResult> {
    return new Promise((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let code: number | undefined;
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        // TERM the command's process group (sudo passes TERM on to what it runs; it would not
        // pass KILL), close the channel, and report now rather than when the host lets go.
        signalChannel(stream, 'TERM');
        stream.close();
        reject(new KprovError('host', `command timed out after ${formatSeconds(timeoutMs)}: ${command}`, { host: this.host }));
      }, timeoutMs);
      stream.on('data', (chunk: Buffer) => stdout.push(chunk));
      stream.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      stream.on('exit', (exitCode: number | null, signal?: string) => {
        if (typeof exitCode === 'number') code = exitCode;
        else if (signal) code = 128 + (osConstants.signals[`SIG${signal}` as keyof typeof osConstants.signals] ?? 0);
      });
      stream.on('error', () => undefined);
      stream.on('close', () => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        if (code === undefined) {
          const why = this.dead ?? 'the channel closed without an exit status';
          reject(new KprovError('ssh', `connection lost while running: ${command} (${why})`, { host: this.host }));
        } else {
          resolve({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
        }
      });
      stream.end(stdin ?? undefined);
    });
  }

  /** The connection's one SFTP channel, opened on first use. */
  sftp(): Promise<SFTPWrapper> {
    if (this.dead) return Promise.reject(new NotStartedError(this.dead));
    this.sftpChannel ??= this.openChannel<SFTPWrapper, SFTPWrapper>(
      'SFTP',
      (done) => this.client.sftp(done),
      async (sftp) => {
        sftp.on('close', () => {
          this.sftpChannel = undefined;
          this.channelClosed();
        });
        return sftp;
      },
    ).catch((err: unknown) => {
      this.sftpChannel = undefined;
      throw err instanceof KprovError || err instanceof NotStartedError ? err : new KprovError('ssh', `cannot open SFTP: ${(err as Error).message}`, { host: this.host });
    });
    return this.sftpChannel;
  }

  /** A TCP stream from the host to address:port (ssh -W), for reaching hosts behind a bastion. */
  forwardOut(address: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.dead) return reject(new NotStartedError(this.dead));
      try {
        this.client.forwardOut('127.0.0.1', 0, address, port, (err, channel) => {
          if (!err) return resolve(channel);
          reject(this.dead ? new NotStartedError(err.message) : err);
        });
      } catch (err) {
        reject(new NotStartedError((err as Error).message));
      }
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.dead) return resolve();
      this.dead = 'closed by kprov';
      this.client.once('close', () => resolve());
      this.client.end();
      // end() waits for the peer; never let shutdown hang on a host that stopped answering.
      setTimeout(() => {
        this.client.destroy();
        resolve();
      }, 2000).unref();
    });
  }
}

/**
 * Sends a signal request for the channel's command. ClientChannel.signal() silently does nothing
 * once stdin has been ended (which every exec does), so this goes to ssh2's protocol object, the
 * same call signal() makes.
 */
function signalChannel(stream: ClientChannel, name: 'TERM' | 'KILL'): void {
  const internals = stream as unknown as {
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal?: (channel: number, signal: string) => void } };
  };
  const id = internals.outgoing?.id;
  const protocol = internals._client?._protocol;
  // 'eof' (stdin ended) still accepts requests; only a closing channel does not.
  const state = internals.outgoing?.state;
  if (id === undefined || (state !== 'open' && state !== 'eof') || typeof protocol?.signal !== 'function') return;
  try {
    protocol.signal(id, name);
  } catch {
    // The connection is going away; nothing left to signal.
  }
}

export function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
