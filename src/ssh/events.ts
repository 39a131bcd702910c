/** What the SSH layer reports while it works. Library code emits these; the CLI decides how to show them. */

/** How a connection logged in. */
export type LoginMethod = 'cluster-key' | 'password' | 'key-file' | 'agent';

export type SshEvent =
  /** A host key was seen for the first time and pinned in known_hosts (trust on first use). */
  | { type: 'ssh.hostkey.pinned'; host: string; name: string; keyType: string; fingerprint: string; file: string }
  | { type: 'ssh.connected'; host: string; user: string; method: LoginMethod; via: string | undefined; ms: number }
  /** The connection dropped and is being re-established (once). */
  | { type: 'ssh.reconnecting'; host: string; reason: string }
  | { type: 'ssh.clusterkey.created'; path: string; keyType: string; fingerprint: string }
  /** The cluster key was appended to a login user's authorized_keys (appended=false: it was already there). */
  | { type: 'ssh.clusterkey.authorized'; host: string; user: string; appended: boolean }
  /** A fresh key-only login succeeded; the run continues on that connection. */
  | { type: 'ssh.clusterkey.proven'; host: string; user: string };

export type SshEventSink = (event: SshEvent) => void;
