/**
 * How every host of the verify play asks the API server about itself. Only control-plane hosts
 * have kubectl and the admin kubeconfig, yet a NotReady node must be reported on that node, with
 * its own kubelet's status and journal. So the first control-plane host of the play offers its
 * connection as the run's observer, and each node's task reads the node list through it.
 *
 * Reads are coalesced: at most one `kubectl get nodes` is in flight, and a result younger than
 * the poll interval is shared, so 100 waiting nodes cost one command per interval, not 100
 * channels on one SSH connection. Nodes poll for the observer inside their own bounded wait, so
 * none hangs on a control-plane host that failed before offering it.
 */
import { KprovError } from '../../errors.js';
import type { ExecResult, RemoteHost } from '../../ssh/types.js';
import { perRun, type ClusterRun } from '../../cluster/run.js';
import { parseNodes, type NodeState } from './api-objects.js';
import { kubectlArgv, outcome, type VerifyPaths } from './tools.js';

export interface ApiObserver {
  /** The control-plane host the reads go through. */
  readonly host: string;
  /** The registered nodes, at most `maxAgeMs` old. */
  nodes(maxAgeMs: number): Promise<NodeState[]>;
}

interface Slot {
  current: ApiObserver | undefined;
}

// One slot per run, shared by every host of the run.
const slotOf = perRun((): Slot => ({ current: undefined }));

/**
 * Offers `host`'s connection as the run's observer (the first offer wins), seeded with a node
 * list the host already read (`kubectl get nodes -o json`, read ahead with the play's reads).
 */
export function offerObserver(run: ClusterRun, host: RemoteHost, paths: VerifyPaths, seed?: ExecResult): void {
  const slot = slotOf(run);
  if (slot.current) return;
  let last: { at: number; nodes: NodeState[] } | undefined;
  if (seed?.code === 0) {
    try {
      last = { at: Date.now(), nodes: parseNodes(seed.stdout) };
    } catch {
      // Unreadable: the first caller asks the host.
    }
  }
  let inFlight: Promise<NodeState[]> | undefined;
  const fetchNodes = async (): Promise<NodeState[]> => {
    const r = await host.exec(kubectlArgv(paths, ['get', 'nodes', '-o', 'json']), { timeoutMs: 15_000 });
    if (r.code !== 0) throw new KprovError('host', `kubectl get nodes on ${host.name} ${outcome(r)}`);
    const nodes = parseNodes(r.stdout);
    last = { at: Date.now(), nodes };
    return nodes;
  };
  slot.current = {
    host: host.name,
    async nodes(maxAgeMs) {
      if (last && Date.now() - last.at <= maxAgeMs) return last.nodes;
      inFlight ??= fetchNodes().finally(() => (inFlight = undefined));
      return inFlight;
    },
  };
}

/** The run's observer once a control-plane host has offered it. */
export function currentObserver(run: ClusterRun): ApiObserver | undefined {
  return slotOf(run).current;
}

/** The observer, waiting for its offer at most `timeoutMs` (looking every 50 ms). */
export async function awaitObserver(run: ClusterRun, timeoutMs: number): Promise<ApiObserver | undefined> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; i <= timeoutMs / 50; i++) {
    const observer = currentObserver(run);
    if (observer || Date.now() >= until) return observer;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return currentObserver(run);
}
