/**
 * The hostnames of the other hosts of the preflight play, for the unique-hostname check.
 *
 * A host's task can only read its own facts through its context, so every host registers its
 * facts reader when its task list is made (which happens as the host starts, before any remote
 * command), and a host's check then reads the registered peers' facts itself. A peer's facts come
 * over that peer's own connection, memoised by the engine, so nothing waits for another host's
 * turn: no deadlock even when --concurrency is lower than the number of hosts. A host that
 * starts later (lower concurrency, serial batches) sees every host registered before it, so of
 * two hosts with the same hostname at least the later one always fails, and the play with it.
 */
import { perRun, type ClusterRun } from '../../cluster/run.js';
import type { HostFacts } from '../../ssh/facts.js';

export type FactsReader = () => Promise<HostFacts>;

/** Host name → facts reader, for the hosts of the run's current preflight play. */
const peersOf = perRun(() => new Map<string, FactsReader>());

/** A fresh registry for a new play (called from the role's prepare). */
export function resetPeers(run: ClusterRun): void {
  peersOf(run).clear();
}

export function registerPeer(run: ClusterRun, host: string, facts: FactsReader): void {
  peersOf(run).set(host, facts);
}

/** Bound on reading the peers' facts (each read is itself bounded by the SSH timeouts). */
export const PEER_FACTS_TIMEOUT_MS = 60_000;

/**
 * The other registered hosts' hostnames. Peers whose facts cannot be read (unreachable: they fail
 * on their own) or not within `timeoutMs` are left out.
 */
export async function peerHostnames(run: ClusterRun, self: string, timeoutMs = PEER_FACTS_TIMEOUT_MS): Promise<Map<string, string>> {
  const peers = [...peersOf(run)].filter(([name]) => name !== self);
  const out = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  try {
    await Promise.race([
      Promise.allSettled(
        peers.map(async ([name, read]) => {
          const facts = await read();
          out.set(name, facts.hostname);
        }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
  // A copy: reads still running after the deadline must not change what the caller checked.
  return new Map(out);
}
