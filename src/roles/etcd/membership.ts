/**
 * Does this member bootstrap a new cluster or join a running one? Facts come from the hosts:
 * a member with data keeps the state it was set up with; a member without data asks the other
 * members (`etcdctl member list` over TLS). Nobody answers: a new cluster, every member
 * `new`. A cluster answers: this member joins with `existing`, after `etcdctl member add` when
 * the cluster does not list it yet.
 */
import type { EtcdMember } from '../../cluster/topology.js';
import { probeRun } from '../../engine/tasks/index.js';
import { shScript } from '../../ssh/quote.js';
import type { Change } from '../../engine/contract.js';
import type { ClusterTask } from '../../cluster/run.js';
import { ETCD_ENV_FILE, type Bootstrap } from './config.js';
import { addMember, listMembers, type Etcdctl, type ListedMember } from './etcdctl.js';

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

/**
 * Finds the member's bootstrap (check) and adds it to a running cluster when needed (apply).
 * `onDecision` receives the result before the env file task renders it.
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
      const listed = hasData || !canAsk ? undefined : await listMembers(host, etcdctl, others);
      answering = listed ? others : [];
      decision = decideMembership(self, members, { hasData, currentState, currentInitialCluster, listed });
      options.onDecision(decision);
      if (!decision.add) return [];
      const change: Change = { kind: 'command', summary: `etcdctl member add ${self.name} --peer-urls=${self.peerUrl} (${decision.reason})` };
      return [change];
    },
    async apply(host) {
      if (decision?.add) await addMember(host, etcdctl, answering, self.name, self.peerUrl);
    },
  };
}
