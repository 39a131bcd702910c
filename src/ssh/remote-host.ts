/**
 * RemoteHost over ssh2: one connection per host for the whole run, re-established once if it
 * drops, sudo when the inventory asks to become another user.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import { KprovError } from '../errors.js';
import { HostCommandError, HostLostError } from './errors.js';
import type { LoginMethod, SshEventSink } from './events.js';
import type { SshHostConfig } from './host-config.js';
import { becomeArgv, commandLine, withEnv } from './quote.js';
import { localSha256, remoteRead, remoteSha256, sftpCall, writeRemote, type FileTransport } from './remote-files.js';
import { NotStartedError, type RawResult, type Session } from './session.js';
import type { ExecOptions, ExecResult, FileSpec, RemoteHost } from './types.js';

/** Opens a new session for this host: with every configured credential, or with the cluster key only. */
export type SessionOpener = (mode: 'any' | 'cluster-key-only') => Promise<Session>;

export interface SshRemoteHostOptions {
  config: SshHostConfig;
  session: Session;
  open: SessionOpener;
  commandTimeoutMs: number;
  onEvent: SshEventSink;
}

const REMOTE_TIMEOUT_GRACE_MS = 1000;

/** sudo's own complaints, as opposed to the output of the command it runs. */
const SUDO_FAILURE =
  /^sudo: (a password is required|a terminal is required|.*is not in the sudoers file|.*not allowed to execute|.*may not run sudo|.*unknown user|.*no tty present)/m;

export class SshRemoteHost implements RemoteHost {
  readonly name: string;
  readonly config: SshHostConfig;
  private session: Session;
  /** The one reconnect this host is allowed (settled or under way). */
  private reconnect: Promise<Session> | undefined;
  private uploaded = 0;
  private home: { session: Session; path: Promise<string> } | undefined;
  private readonly open: SessionOpener;
  private readonly commandTimeoutMs: number;
  private readonly onEvent: SshEventSink;

  constructor(options: SshRemoteHostOptions) {
    this.name = options.config.name;
    this.config = options.config;
    this.session = options.session;
    this.open = options.open;
    this.commandTimeoutMs = options.commandTimeoutMs;
    this.onEvent = options.onEvent;
  }

  get bytesUploaded(): number {
    return this.uploaded;
  }

  /** How the current connection logged in ('cluster-key' once the cluster key is authorized). */
  get loginMethod(): LoginMethod {
    return this.session.method;
  }

  /**
   * The live session; a dropped connection is re-established once, after that the host fails.
   * Either way out (the reconnect failed, or the new connection dropped too) is a HostLostError.
   */
  private async live(): Promise<Session> {
    const reason = this.session.closedReason;
    if (reason === undefined) return this.session;
    if (!this.reconnect) {
      this.onEvent({ type: 'ssh.reconnecting', host: this.name, reason });
      this.reconnect = this.open('any').then(
        (fresh) => (this.session = fresh),
        (err: unknown) => {
          const why = err instanceof Error ? err.message : String(err);
          throw new HostLostError(this.name, `the connection was lost (${reason}) and could not be opened again: ${why}`, err);
        },
      );
      return this.reconnect;
    }
    // Callers that found the connection gone while the one reconnect was under way share it.
    const fresh = await this.reconnect;
    if (fresh.closedReason === undefined) return fresh;
    throw new HostLostError(this.name, `the connection was lost again (${fresh.closedReason}); giving up on this host`);
  }

  private async onLiveSession<T>(use: (s: Session) => Promise<T>): Promise<T> {
    try {
      return await use(await this.live());
    } catch (err) {
      // The command never started because the connection had just died: safe to run it on a new one.
      if (!(err instanceof NotStartedError)) throw err;
      return use(await this.live());
    }
  }

  /**
   * The command line for argv with env and sudo applied: `shown` is what messages quote (and a
   * person could paste); `sent` also runs it under timeout(1), because sshd cannot signal the
   * commands of a root login and sudo does not pass SIGKILL on, so only a timer on the host
   * itself reliably stops a command that outlived its bound.
   */
  commandFor(argv: readonly string[], options: ExecOptions = {}): { shown: string; sent: string } {
    const full = withEnv(argv, options.env);
    const become = this.config.become && !options.asLoginUser;
    const wrap = (a: string[]) => (become ? becomeArgv(a, this.config.becomeUser) : a);
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    // A little later than the local timer, which reports the timeout; -k: KILL if TERM is ignored.
    const remoteSeconds = ((timeoutMs + REMOTE_TIMEOUT_GRACE_MS) / 1000).toFixed(1);
    return {
      shown: commandLine(wrap(full)),
      sent: commandLine(wrap(['timeout', '-k', '5', remoteSeconds, ...full])),
    };
  }

  private async execRawWith(argv: readonly string[], options: ExecOptions): Promise<RawResult & { command: string }> {
    const { shown: command, sent } = this.commandFor(argv, options);
    const stdin = options.stdin;
    const timeout = options.timeoutMs ?? this.commandTimeoutMs;
    const result = await this.onLiveSession((s) => s.exec(sent, stdin, timeout, command));
    if (this.config.become && !options.asLoginUser) this.checkSudo(result);
    return { ...result, command };
  }

  private checkSudo(result: RawResult): void {
    if (result.code !== 1 && result.code !== 127) return;
    const stderr = result.stderr.toString('utf8');
    const sudoProblem = result.code === 1 ? SUDO_FAILURE.exec(stderr) : /sudo: (command )?not found/.exec(stderr);
    if (!sudoProblem) return;
    throw new KprovError('host', `cannot become ${this.config.becomeUser} with sudo as ${this.config.user}: ${sudoProblem[0].replace(/^sudo: /, '')}`, {
      host: this.name,
      hint: `give ${this.config.user} passwordless sudo (a NOPASSWD rule in /etc/sudoers.d/), or log in as root`,
    });
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.execRawWith(argv, options);
    return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
  }

  async run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.execRawWith(argv, options);
    const result = { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
    if (r.code !== 0) throw new HostCommandError({ host: this.name, command: r.command, ...result });
    return result;
  }

  private get transport(): FileTransport {
    return {
      name: this.name,
      become: this.config.become,
      execRaw: (argv, stdin) => this.execRawWith(argv, stdin === undefined ? {} : { stdin }),
      sftp: () => this.onLiveSession((s) => s.sftp()),
      sftpHome: () => this.sftpHome(),
      countUploaded: (bytes) => (this.uploaded += bytes),
    };
  }

  private async sftpHome(): Promise<string> {
    const session = await this.live();
    if (this.home?.session !== session) {
      const path = session.sftp().then((sftp: SFTPWrapper) => sftpCall<string>(this, sftp, 'SFTP realpath', (cb) => sftp.realpath('.', cb)));
      this.home = { session, path };
    }
    return this.home.path;
  }

  sha256(path: string): Promise<string | undefined> {
    return remoteSha256(this.transport, path);
  }

  readFile(path: string): Promise<Buffer | undefined> {
    return remoteRead(this.transport, path);
  }

  async writeFile(path: string, content: string | Buffer, spec: FileSpec, options?: { differs?: boolean }): Promise<boolean> {
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const sha256 = createHash('sha256').update(data).digest('hex');
    return writeRemote(this.transport, path, { kind: 'buffer', data }, sha256, spec, options?.differs === true);
  }

  async uploadFile(localPath: string, remotePath: string, spec: FileSpec & { sha256?: string }): Promise<boolean> {
    try {
      if (!(await stat(localPath)).isFile()) throw new Error('not a regular file');
    } catch (err) {
      throw new KprovError('io', `cannot upload ${localPath}: ${(err as Error).message}`, { host: this.name });
    }
    const sha256 = spec.sha256 ?? (await localSha256(localPath));
    return writeRemote(this.transport, remotePath, { kind: 'local', path: localPath }, sha256, spec);
  }

  /** A stream from this host to address:port, over its connection (this host as a jump host). */
  forwardOut(address: string, port: number): Promise<Duplex> {
    return this.onLiveSession((s) => s.forwardOut(address, port));
  }

  /**
   * Opens a fresh connection that may log in with the cluster key only; when it succeeds it
   * becomes this host's connection and the bootstrap one is closed.
   */
  async switchToClusterKey(): Promise<void> {
    const fresh = await this.open('cluster-key-only');
    const old = this.session;
    this.session = fresh;
    await old.close();
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
