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

/** sshd's MaxSessions defaults to 10 channels per connection; keep one for SFTP and a margin. */
const MAX_CHANNELS = 8;

/** The connection died before the command could start, so it is safe to run it again elsewhere. */
export class NotStartedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotStartedError';
  }
}

export class Session {
  private dead: string | undefined;
  private sftpChannel: Promise<SFTPWrapper> | undefined;
  private readonly channels: LimitFunction = pLimit(MAX_CHANNELS);

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

  private execNow(command: string, stdin: string | Buffer | undefined, timeoutMs: number, shown: string): Promise<RawResult> {
    return new Promise((resolve, reject) => {
      if (this.dead) return reject(new NotStartedError(this.dead));
      const onOpen = (err: Error | undefined, stream: ClientChannel) => {
        if (err) {
          // A refused channel on a live connection is a host problem; on a dead one the command never ran.
          if (this.dead || /No response from server|Not connected/.test(err.message)) {
            reject(new NotStartedError(err.message));
          } else {
            reject(new KprovError('ssh', `cannot start ${shown}: ${err.message}`, { host: this.host }));
          }
          return;
        }
        this.collect(stream, shown, stdin, timeoutMs).then(resolve, reject);
      };
      try {
        this.client.exec(command, onOpen);
      } catch (err) {
        reject(new NotStartedError((err as Error).message));
      }
    });
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
    this.sftpChannel ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((err, sftp) => {
        if (err) {
          this.sftpChannel = undefined;
          reject(new KprovError('ssh', `cannot open SFTP: ${err.message}`, { host: this.host }));
          return;
        }
        sftp.on('close', () => (this.sftpChannel = undefined));
        resolve(sftp);
      });
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
