/**
 * Taking etcd members of hosts that leave out of the cluster, on an etcd host that stays: the
 * members as etcd lists them (IDs from `member list -w simple`: JSON IDs are 64-bit and lose
 * precision as JS numbers), the health of those that stay, and `member remove` only while the
 * members that stay keep a quorum among themselves. One member at a time.
 */
import { etcdctlArgv, type Etcdctl } from '../etcd/etcdctl.js';
import { etcdctlFor } from '../etcd/index.js';
import { HostStepError } from '../../engine/errors.js';
import type { Change } from '../../engine/contract.js';
import type { ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import type { EtcdMember } from '../../cluster/topology.js';
import type { RemoteHost } from '../../ssh/types.js';

const ENV = { ETCDCTL_API: '3' };
const REMOVE_ATTEMPTS = 15;
const REMOVE_RETRY_MS = 1_000;

export interface ListedMemberId {
  id: string;
  name: string;
  clientUrls: string[];
}

/** `8e9e05c52164694d, started, node1, https://…:2380, https://…:2379` per line. */
export function parseMemberListSimple(text: string): ListedMemberId[] {
  return text
    .split('\n')
    .map((l) => l.split(',').map((f) => f.trim()))
    .filter((f) => f.length >= 5 && /^[0-9a-f]+$/.test(f[0]!))
    .map((f) => ({ id: f[0]!, name: f[2]!, clientUrls: f[4]!.split(/\s+/).filter((u) => u !== '') }));
}

/** The quorum of `members` members: more than half. */
export const quorumOf = (members: number) => Math.floor(members / 2) + 1;

/** Why removing `leaving` members would lose quorum, or undefined when the healthy members that stay are enough. */
export function quorumProblem(listed: number, leaving: readonly string[], healthyStaying: number): string | undefined {
  const staying = listed - leaving.length;
  if (staying < 1) return `removing ${leaving.join(', ')} would leave etcd without members`;
  const needed = quorumOf(staying);
  if (healthyStaying >= needed) return undefined;
  return `removing ${leaving.join(', ')} leaves ${staying} member(s), of which ${healthyStaying} healthy; etcd needs ${needed} for a quorum`;
}

interface MemberChange extends Change {
  member: ListedMemberId;
}

/** The member task of the first etcd host that stays. */
export function removeEtcdMembers(ctx: ClusterTaskContext, leaving: readonly EtcdMember[], staying: readonly EtcdMember[]): ClusterTask<MemberChange> {
  const names = leaving.map((m) => m.name);
  const endpoints = staying.map((m) => m.clientUrl);
  const etcdctl = (): Promise<Etcdctl> => etcdctlFor(ctx);
  const list = async (host: RemoteHost, ctl: Etcdctl): Promise<ListedMemberId[]> => {
    const r = await host.exec(etcdctlArgv(ctl, endpoints, ['member', 'list', '-w', 'simple']), { env: ENV, timeoutMs: 20_000 });
    if (r.code !== 0) throw new HostStepError(host.name, `etcd answers no member list from ${endpoints.join(', ')}: ${(r.stderr || r.stdout).trim().split('\n').at(-1) ?? ''}`, []);
    return parseMemberListSimple(r.stdout);
  };
  return {
    name: `etcd members of ${names.join(', ')} removed (quorum kept)`,
    async check(host) {
      const ctl = await etcdctl();
      const listed = await list(host, ctl);
      const gone = listed.filter((m) => names.includes(m.name));
      if (gone.length === 0) return [];
      // Health of every member that stays, each asked on its own client URL.
      const health = await host.exec(etcdctlArgv(ctl, listed.filter((m) => !names.includes(m.name)).flatMap((m) => m.clientUrls.slice(0, 1)), ['endpoint', 'health']), { env: ENV, timeoutMs: 30_000 });
      const healthy = (`${health.stdout}\n${health.stderr}`.match(/ is healthy: /g) ?? []).length;
      const problem = quorumProblem(listed.length, gone.map((m) => m.name), healthy);
      if (problem) {
        throw new HostStepError(host.name, `not removing etcd members: ${problem}`, `${health.stdout}${health.stderr}`.trim().split('\n').slice(-6), 'bring the unhealthy members back first (kprov apply cluster --tags etcd), or restore from a backup');
      }
      return gone.map((member) => ({ kind: 'custom', member, summary: `remove etcd member ${member.name} (${member.id})` }));
    },
    async apply(host, changes) {
      const ctl = await etcdctl();
      for (const c of changes) {
        // etcd refuses while a member that stays has been connected for less than its health
        // interval (5 s), e.g. just restarted: "unhealthy cluster". Asked again, bounded.
        for (let attempt = 1; ; attempt++) {
          const r = await host.exec(etcdctlArgv(ctl, endpoints, ['member', 'remove', c.member.id]), { env: ENV, timeoutMs: 30_000 });
          if (r.code === 0) break;
          const text = `${r.stdout}\n${r.stderr}`;
          if (!/unhealthy cluster/.test(text) || attempt >= REMOVE_ATTEMPTS) {
            throw new HostStepError(host.name, `etcdctl member remove ${c.member.name} (${c.member.id}) exited with ${r.code}: ${text.trim().split('\n').at(-1) ?? ''}`, text.trim().split('\n').slice(-4));
          }
          await new Promise((resolve) => setTimeout(resolve, REMOVE_RETRY_MS));
        }
      }
    },
  };
}
