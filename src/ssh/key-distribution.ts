/**
 * Key distribution: make each host accept the cluster key, then move the run onto a connection
 * that logged in with it. The bootstrap credentials are used only until then.
 */
import { KprovError } from '../errors.js';
import type { ClusterKey } from './cluster-key.js';
import type { Connector } from './connector.js';
import type { SshEventSink } from './events.js';
import { shScript } from './quote.js';
import type { SshRemoteHost } from './remote-host.js';
import type { RemoteHost } from './types.js';

/**
 * Appends $2 (the full key line) to the login user's ~/.ssh/authorized_keys unless a line already
 * holds $1 (`type base64`) as a word, with or without options or comment. Runs as the login user,
 * so the files are that user's; umask and chmod give 0700/0600. A last line without a newline is
 * terminated first so the key never joins it.
 */
const AUTHORIZE_SCRIPT = `umask 077
if [ -z "$HOME" ] || [ ! -d "$HOME" ]; then echo "the login user has no home directory" >&2; exit 1; fi
d=$HOME/.ssh; f=$d/authorized_keys
mkdir -p -- "$d" && chmod 700 -- "$d" || exit 1
if [ -f "$f" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case " $line " in *" $1 "*) chmod 600 -- "$f" && echo present; exit $?;; esac
  done < "$f"
  if [ -s "$f" ] && [ -n "$(tail -c 1 -- "$f")" ]; then printf '\\n' >> "$f" || exit 1; fi
fi
printf '%s\\n' "$2" >> "$f" && chmod 600 -- "$f" && echo appended`;

/** Adds the cluster key to the login user's authorized_keys once; true when a line was appended. */
export async function authorizeClusterKey(host: RemoteHost, key: ClusterKey): Promise<boolean> {
  const r = await host.run(shScript(AUTHORIZE_SCRIPT, [key.publicKeyBody, key.publicKey]), { asLoginUser: true });
  const outcome = r.stdout.trim();
  if (outcome !== 'appended' && outcome !== 'present') {
    throw new KprovError('host', `unexpected answer while authorizing the cluster key: ${outcome}`, { host: host.name });
  }
  return outcome === 'appended';
}

export interface KeyDistributionResult {
  host: string;
  user: string;
  /** The host already accepted the cluster key: nothing was done. */
  alreadyAccepted: boolean;
  /** A line was appended to authorized_keys. */
  appended: boolean;
}

/**
 * Makes the host accept the cluster key: append it to authorized_keys when needed, then prove a
 * key-only login works on a fresh connection, which replaces the bootstrap one for the run.
 */
export async function distributeClusterKey(
  host: SshRemoteHost,
  key: ClusterKey,
  onEvent: SshEventSink = () => undefined,
): Promise<KeyDistributionResult> {
  const user = host.config.user;
  if (host.loginMethod === 'cluster-key') return { host: host.name, user, alreadyAccepted: true, appended: false };
  const appended = await authorizeClusterKey(host, key);
  onEvent({ type: 'ssh.clusterkey.authorized', host: host.name, user, appended });
  try {
    await host.switchToClusterKey();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new KprovError('ssh', `the cluster key is in ${user}'s authorized_keys, but logging in with it failed: ${why}`, {
      host: host.name,
      hint: 'check that sshd allows public-key login (PubkeyAuthentication) and that ~/.ssh is not writable by others',
    });
  }
  onEvent({ type: 'ssh.clusterkey.proven', host: host.name, user });
  return { host: host.name, user, alreadyAccepted: false, appended };
}

/** Creates the cluster key if needed and distributes it to every named host; one failed host does not stop the others. */
export async function distributeClusterKeys(
  connector: Connector,
  hostNames: readonly string[],
  onEvent: SshEventSink = () => undefined,
): Promise<Array<{ host: string; result?: KeyDistributionResult; error?: unknown }>> {
  const { key } = await connector.ensureClusterKey();
  return Promise.all(
    hostNames.map(async (name) => {
      try {
        return { host: name, result: await distributeClusterKey(await connector.connect(name), key, onEvent) };
      } catch (error) {
        return { host: name, error };
      }
    }),
  );
}
