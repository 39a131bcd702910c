/**
 * Does this member bootstrap a new cluster or join a running one? Facts come from the hosts:
 * a member with data keeps the state it was set up with; a member without data asks the other
 * members that listen (`etcdctl member list` over TLS). Nobody answers: a new cluster, every member
 * `new`. A cluster answers: this member joins with `existing`, after `etcdctl member add` when
 * the cluster does not list it yet.
 */
import type { EtcdMember } from '../../cluster/topology.js';
import { probeRun } from '../../engine/tasks/index.js';
import { HostStepError } from '../../engine/errors.js';
import type { RemoteHost } from '../../ssh/types.js';
import { shScript } from '../../ssh/quote.js';
import type { Change } from '../../engine/contract.js';
import type { ClusterTask } from '../../cluster/run.js';
import { ETCD_ENV_FILE, type Bootstrap } from './config.js';
import { addMember, listMembers, type Etcdctl, type ListedMember } from './etcdctl.js';
import { reachableEndpoints } from './reachable.js';

export interface MembershipFacts {
  /** `<etcd_data_dir>/member` exists: this member has been part of a cluster. */
  hasData: boolean;
  /** ETCD_INITIAL_CLUSTER_STATE in the host's current env file, if any. */
  currentState: 'new' | 'existing' | undefined;
  /** ETCD_INITIAL_CLUSTER in the host's current env file, if any. */
  currentInitialCluster?: string | undefined;
  /** What the other members list, or undefined when none of them answers. */
  listed: ListedMember[] | undefined;
}

export interface MembershipDecision extends Bootstrap {
  /** `etcdctl member add` must run before this member starts. */
  add: boolean;
  /** Why, in words (shown in plans). */
  reason: string;
}

/** The decision, from the facts and the inventory's members (their order is kept). */
export function decideMembership(self: EtcdMember, members: readonly EtcdMember[], facts: MembershipFacts): MembershipDecision {
  const everyone = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  if (facts.hasData) {
    // etcd ignores the initial-cluster settings once it has data: keep the file stable, so that a
    // member joining or leaving rewrites (and restarts) nothing on the members already there.
    return { state: facts.currentState ?? 'new', initialCluster: facts.currentInitialCluster || everyone, add: false, reason: 'member has data' };
  }
  if (facts.listed === undefined) {
    return { state: 'new', initialCluster: everyone, add: false, reason: 'no other member answers: bootstrapping a new cluster' };
  }
  const listed = facts.listed;
  const isListed = (peerUrl: string) => listed.some((m) => m.peerUrls.includes(peerUrl));
  const add = !isListed(self.peerUrl);
  // `existing` needs exactly the cluster's members (by peer URL) plus this one, named.
  const known = members.filter((m) => m.name === self.name || isListed(m.peerUrl)).map((m) => `${m.name}=${m.peerUrl}`);
  const inventoryUrls = new Set(members.map((m) => m.peerUrl));
  const extra = listed
    .filter((m) => !m.peerUrls.some((u) => inventoryUrls.has(u)))
    .flatMap((m, i) => m.peerUrls.map((u) => `${m.name || `unnamed${i + 1}`}=${u}`));
  return {
    state: 'existing',
    initialCluster: [...known, ...extra].join(','),
    add,
    reason: add ? 'joining the running cluster as a new member' : 'the running cluster lists this member: joining it',
  };
}

// One round trip for both local facts.
const LOCAL_FACTS = String.raw`if [ -d "$1/member" ]; then echo data; else echo nodata; fi
if [ -f "$2" ]; then sed -n 's/^ETCD_INITIAL_CLUSTER_STATE=/state=/p; s/^ETCD_INITIAL_CLUSTER=/cluster=/p' "$2"; fi
if [ -x "$3" ]; then echo etcdctl; fi`;

/** How long a new member waits for the members added before it to start (they start in the same play). */
const JOIN_WAIT_MS = 180_000;
const JOIN_RETRY_MS = 2_000;

/**
 * Other members that were added but never started (`member list` names them only once they run).
 * etcd refuses a `member add` while one is pending when the started members would lose their
 * quorum, and a member that joins must name every member, the pending ones too.
 */
export function pendingMembers(listed: readonly ListedMember[], self: EtcdMember): ListedMember[] {
  return listed.filter((m) => m.name === '' && !m.peerUrls.includes(self.peerUrl));
}

/**
 * Adds `self` to the running cluster, one new member at a time: apply cluster's etcd play runs
 * its hosts together (a new cluster's members must start together), so several new members of
 * one run would add themselves at once and etcd would refuse the second. Each waits, bounded,
 * until no other added member is pending, adds itself, and returns the member list after its
 * add, from which its initial cluster is made.
 */
async function addOneAtATime(host: RemoteHost, etcdctl: Etcdctl, endpoints: readonly string[], self: EtcdMember): Promise<ListedMember[]> {
  const until = Date.now() + JOIN_WAIT_MS;
  let last = '';
  for (;;) {
    const listed = await listMembers(host, etcdctl, endpoints);
    if (listed && listed.some((m) => m.peerUrls.includes(self.peerUrl))) return listed;
    const pending = listed ? pendingMembers(listed, self) : [];
    if (listed && pending.length === 0) {
      try {
        await addMember(host, etcdctl, endpoints, self.name, self.peerUrl);
        continue;
      } catch (err) {
        // Another new member of this run added itself first: wait for it to start.
        last = err instanceof Error ? err.message : String(err);
      }
    } else {
      last = listed ? `waiting for the added member(s) ${pending.flatMap((m) => m.peerUrls).join(', ')} to start` : 'no member answered member list';
    }
    if (Date.now() + JOIN_RETRY_MS > until) {
      throw new HostStepError(host.name, `etcd member add ${self.name}: not done within ${JOIN_WAIT_MS / 1000} s: ${last}`, [], 'a member added earlier has not started: look at etcd on the other new members (journalctl -u etcd), then run again');
    }
    await new Promise((resolve) => setTimeout(resolve, JOIN_RETRY_MS));
  }
}

/**
 * Finds the member's bootstrap (check) and adds it to a running cluster when needed (apply).
 * `onDecision` receives the result before the env file task renders it, and again after the add
 * (the members then include any other new member of the run that joined first).
 */
export function membershipTask(options: {
  self: EtcdMember;
  members: readonly EtcdMember[];
  dataDir: string;
  etcdctl: Etcdctl;
  onDecision(decision: MembershipDecision): void;
}): ClusterTask {
  const { self, members, etcdctl } = options;
  const others = members.filter((m) => m.name !== self.name).map((m) => m.clientUrl);
  const localFacts = { argv: shScript(LOCAL_FACTS, [options.dataDir, ETCD_ENV_FILE, etcdctl.bin], 'kprov-etcd-facts') };
  let decision: MembershipDecision | undefined;
  let answering: string[] = [];
  return {
    name: `etcd membership of ${self.name}`,
    reads: () => ({ commands: [localFacts] }),
    async check(host, ctx) {
      const local = await probeRun(host, localFacts, ctx);
      const lines = local.stdout.split('\n').map((l) => l.trim());
      const hasData = lines[0] === 'data';
      const stateLine = lines.find((l) => l === 'state=new' || l === 'state=existing');
      const currentState = stateLine === 'state=new' ? 'new' : stateLine === 'state=existing' ? 'existing' : undefined;
      const currentInitialCluster = lines.find((l) => l.startsWith('cluster='))?.slice('cluster='.length);
      // etcdctl and the certificates are installed by the tasks before this one (absent only in a dry run).
      const canAsk = lines.includes('etcdctl');
      const listening = hasData || !canAsk ? [] : await reachableEndpoints(host, others);
      const listed = listening.length > 0 ? await listMembers(host, etcdctl, listening) : undefined;
      answering = listed ? listening : [];
      decision = decideMembership(self, members, { hasData, currentState, currentInitialCluster, listed });
      options.onDecision(decision);
      if (!decision.add) return [];
      const change: Change = { kind: 'command', summary: `etcdctl member add ${self.name} --peer-urls=${self.peerUrl} (${decision.reason})` };
      return [change];
    },
    async apply(host) {
      if (!decision?.add) return;
      const listed = await addOneAtATime(host, etcdctl, answering, self);
      decision = { ...decideMembership(self, members, { hasData: false, currentState: undefined, currentInitialCluster: undefined, listed }), add: true, reason: decision.reason };
      options.onDecision(decision);
    },
  };
}
