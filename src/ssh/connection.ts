/**
 * Opens one authenticated ssh2 connection: pinned host key, credentials tried in order, and one
 * deadline for TCP connect + handshake + login (paused while a person types a password).
 */
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
// ssh2 is CommonJS: Node's ESM loader sees only its default export.
import ssh2 from 'ssh2';
import type {
  Client,
  AnyAuthMethod,
  AuthHandlerMiddleware,
  AuthenticationType,
  ConnectConfig,
  ServerHostKeyAlgorithm,
} from 'ssh2';
import { KprovError } from '../errors.js';
import type { ClusterKey } from './cluster-key.js';
import type { BootstrapPassword } from './credentials.js';
import type { LoginMethod, SshEventSink } from './events.js';
import { sha256Fingerprint, keyTypeOfBlob } from './fingerprint.js';
import type { SshHostConfig } from './host-config.js';
import { knownHostsName, pinnedKeyTypes, type KnownHostsFile, verdictFor } from './known-hosts.js';
import { shellQuote } from './quote.js';
import { formatSeconds } from './session.js';

/** One way to log in, tried in the order given. */
export type AuthCandidate =
  | { method: 'cluster-key'; key: ClusterKey }
  | { method: 'password'; lookup: () => Promise<BootstrapPassword | undefined>; interactive: boolean }
  | { method: 'key-file'; path: string }
  | { method: 'agent'; socket: string };

export interface OpenRequest {
  config: SshHostConfig;
  knownHosts: KnownHostsFile;
  candidates: readonly AuthCandidate[];
  timeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** Opens the TCP stream some other way (a channel through the bastion) instead of connecting directly. */
  tunnel?: () => Promise<Duplex>;
  /** Name of the host the tunnel goes through, for messages. */
  via?: string;
  onEvent: SshEventSink;
}

export interface OpenedConnection {
  client: Client;
  method: LoginMethod;
}

/** Host key algorithms ssh2 offers, and the key type each produces. */
const HOST_KEY_ALGORITHMS: ReadonlyArray<readonly [algorithm: ServerHostKeyAlgorithm, keyType: string]> = [
  ['ssh-ed25519', 'ssh-ed25519'],
  ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256'],
  ['ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384'],
  ['ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521'],
  ['rsa-sha2-512', 'ssh-rsa'],
  ['rsa-sha2-256', 'ssh-rsa'],
  ['ssh-rsa', 'ssh-rsa'],
];

/** Like OpenSSH, ask first for the key types already pinned, so a host with several keys is not mistaken for a changed one. */
function hostKeyPreference(pinned: readonly string[]): ServerHostKeyAlgorithm[] | undefined {
  if (pinned.length === 0) return undefined;
  const known = HOST_KEY_ALGORITHMS.filter(([, type]) => pinned.includes(type)).map(([a]) => a);
  const rest = HOST_KEY_ALGORITHMS.filter(([, type]) => !pinned.includes(type)).map(([a]) => a);
  return [...known, ...rest];
}

/** A bounded timer that can stop counting while a person is typing. */
class Deadline {
  private timer: NodeJS.Timeout | undefined;
  private remaining: number;
  private startedAt = 0;

  constructor(ms: number, private readonly onExpire: () => void) {
    this.remaining = ms;
    this.resume();
  }

  pause(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remaining -= Date.now() - this.startedAt;
  }

  resume(): void {
    if (this.timer) return;
    this.startedAt = Date.now();
    this.timer = setTimeout(this.onExpire, Math.max(0, this.remaining));
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function candidateLabel(c: AuthCandidate, source?: string): string {
  switch (c.method) {
    case 'cluster-key':
      return `the cluster key ${c.key.privateKeyPath}`;
    case 'password':
      return `the password from ${source ?? 'nowhere'}`;
    case 'key-file':
      return `ansible_ssh_private_key_file ${c.path}`;
    case 'agent':
      return 'the ssh-agent';
  }
}

export async function openConnection(req: OpenRequest): Promise<OpenedConnection> {
  const { config } = req;
  const target = `${config.user}@${config.address}:${config.port}`;
  const via = req.via ? ` (through bastion ${req.via})` : '';
  const name = knownHostsName(config.address, config.port);
  const entries = await req.knownHosts.load();
  const preference = hostKeyPreference(pinnedKeyTypes(entries, name));
  const fail = (message: string, hint?: string) =>
    new KprovError('ssh', message, hint === undefined ? { host: config.name } : { host: config.name, hint });

  return new Promise<OpenedConnection>((resolve, reject) => {
    const client: Client = new ssh2.Client();
    let settled = false;
    /** Set when we refuse the connection for a reason better than ssh2's own message. */
    let refusal: KprovError | undefined;
    let current: LoginMethod | undefined;
    const tried: string[] = [];
    let stream: Duplex | undefined;

    const finish = (err: KprovError | undefined, ok?: OpenedConnection) => {
      if (settled) return;
      settled = true;
      deadline.clear();
      if (err) {
        client.removeAllListeners('ready');
        client.on('error', () => undefined);
        // destroy, not end: a socket still waiting for a SYN-ACK would otherwise keep retrying
        // (and keep the process alive) for minutes.
        client.destroy();
        stream?.destroy();
        reject(err);
      } else if (ok) {
        resolve(ok);
      }
    };

    const deadline = new Deadline(req.timeoutMs, () =>
      finish(
        fail(
          `no SSH login to ${target}${via} within ${formatSeconds(req.timeoutMs)}`,
          'is the host up and is sshd listening on that address and port?',
        ),
      ),
    );

    // Verifies the presented host key against known_hosts; unknown hosts are pinned (TOFU).
    const hostVerifier = (blob: Buffer, verify: (ok: boolean) => void) => {
      const fingerprint = sha256Fingerprint(blob);
      const keyType = keyTypeOfBlob(blob);
      const verdict = verdictFor(entries, name, blob);
      const refuse = (err: KprovError) => {
        refusal = err;
        verify(false);
      };
      const decide = (v: typeof verdict) => {
        if (v.kind === 'trusted') return verify(true);
        if (v.kind === 'unknown') {
          req.onEvent({ type: 'ssh.hostkey.pinned', host: config.name, name, keyType, fingerprint, file: req.knownHosts.file });
          return verify(true);
        }
        if (v.kind === 'revoked') {
          return refuse(
            fail(`the host key of ${name} (${keyType} ${fingerprint}) is marked @revoked in ${req.knownHosts.file}:${v.entry.line}`),
          );
        }
        const pinned = v.pinned
          .map((e) => `${e.keyType} ${sha256Fingerprint(Buffer.from(e.key, 'base64'))} (${req.knownHosts.file}:${e.line})`)
          .join(', ');
        refuse(
          fail(
            `HOST KEY CHANGED for ${name}: it presented ${keyType} ${fingerprint}, but known_hosts pins ${pinned}; refusing to connect`,
            `if the host was reinstalled and you trust the new key, forget the old one: ssh-keygen -R ${shellQuote(name)} -f ${shellQuote(req.knownHosts.file)}`,
          ),
        );
      };
      if (verdict.kind !== 'unknown') return decide(verdict);
      // Unknown here may be known by now (another connection or process pinned it): re-check under the file's queue.
      req.knownHosts.trust(name, blob).then(decide, (err: Error) =>
        refuse(fail(`cannot write ${req.knownHosts.file}: ${err.message}`)),
      );
    };

    let candidateIndex = 0;
    let kbdAnswered = false;
    // ssh2 calls this before each attempt (methodsLeft is null before the server has named any).
    const authHandler: AuthHandlerMiddleware = (methodsLeft: AuthenticationType[] | null, _partial, nextAuth) => {
      // ssh2 takes `false` for "no more methods"; its type definitions omit that.
      const next = nextAuth as (auth: AnyAuthMethod | false) => void;
      const allows = (m: AuthenticationType) => methodsLeft === null || methodsLeft.includes(m);
      const pick = async (): Promise<AnyAuthMethod | false> => {
        while (candidateIndex < req.candidates.length) {
          const c = req.candidates[candidateIndex++]!;
          const username = config.user;
          if (c.method === 'cluster-key' || c.method === 'key-file') {
            if (!allows('publickey')) continue;
            let key: string;
            if (c.method === 'cluster-key') key = c.key.privateKeyText();
            else {
              const text = await readFile(c.path, 'utf8').catch(() => undefined);
              if (text === undefined) continue;
              key = text;
            }
            current = c.method;
            tried.push(candidateLabel(c));
            return { type: 'publickey', username, key };
          }
          if (c.method === 'agent') {
            if (!allows('publickey')) continue;
            current = 'agent';
            tried.push(candidateLabel(c));
            return { type: 'agent', username, agent: c.socket };
          }
          // Passwords: typing one does not count against the login deadline.
          if (!allows('password') && !allows('keyboard-interactive')) continue;
          if (c.interactive) deadline.pause();
          const found = await c.lookup().finally(() => deadline.resume());
          if (!found) continue;
          current = 'password';
          tried.push(candidateLabel(c, found.source));
          if (allows('password')) return { type: 'password', username, password: found.password };
          kbdAnswered = false;
          return {
            type: 'keyboard-interactive',
            username,
            prompt: (_name, _instructions, _lang, prompts, answer) => {
              // Answer the password prompt once; a second round means it was wrong.
              answer(kbdAnswered ? [] : prompts.map(() => found.password));
              kbdAnswered = true;
            },
          };
        }
        return false;
      };
      pick().then(next, (err: Error) => {
        refusal = fail(`login to ${target}: ${err.message}`);
        next(false);
      });
    };

    client.on('ready', () => {
      if (!current) return finish(fail(`login to ${target} succeeded without credentials`));
      finish(undefined, { client, method: current });
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (refusal) return finish(refusal);
      if (err.level === 'client-authentication') {
        const what = tried.length > 0 ? `tried ${tried.join(', then ')}` : 'no credentials were available';
        return finish(
          fail(
            `cannot log in as ${config.user} on ${config.address}:${config.port}${via}: ${what}`,
            'for a first login put the password in credentials/bootstrap-password or $KPROV_SSH_PASSWORD, or set ansible_ssh_private_key_file',
          ),
        );
      }
      finish(fail(`cannot connect to ${config.address}:${config.port}${via}: ${describeSocketError(err)}`));
    });
    client.on('close', () => finish(refusal ?? fail(`${config.address}:${config.port}${via} closed the connection during login`)));

    const connectConfig: ConnectConfig = {
      host: config.address,
      port: config.port,
      username: config.user,
      readyTimeout: 0, // the Deadline above bounds the whole login instead
      keepaliveInterval: req.keepaliveIntervalMs,
      keepaliveCountMax: req.keepaliveCountMax,
      hostVerifier,
      authHandler,
      ...(preference ? { algorithms: { serverHostKey: preference } } : {}),
    };
    const start = (sock?: Duplex) => {
      if (settled) {
        sock?.destroy();
        return;
      }
      stream = sock;
      try {
        client.connect(sock ? { ...connectConfig, sock: sock as ConnectConfig['sock'] } : connectConfig);
        // Every command is a few small packets each way: with Nagle's algorithm each waited for the
        // host's delayed ACK (~40 ms per command, measured); a tunnel's channel has no socket of its own.
        client.setNoDelay(true);
      } catch (err) {
        finish(fail(`cannot connect to ${target}: ${(err as Error).message}`));
      }
    };
    if (req.tunnel) {
      req.tunnel().then(start, (err: unknown) =>
        finish(err instanceof KprovError ? err : fail(`cannot reach ${config.address}:${config.port}${via}: ${(err as Error).message}`)),
      );
    } else {
      start();
    }
  });
}

function describeSocketError(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is sshd running?)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return err.message;
  }
}
