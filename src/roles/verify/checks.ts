/**
 * The cluster's health, one verification per thing that must hold: every etcd member healthy,
 * every API server answering /healthz, the component statuses healthy, every node Ready and no
 * node the inventory does not know. Each waits, bounded, and fails with the status and journal
 * of the unit on this host that explains it.
 */
import type { ClusterHost, EtcdMember, Topology } from '../../cluster/topology.js';
import type { ClusterTask } from '../../cluster/run.js';
import { notReadyReason, parseComponentStatuses, parseNodes } from './api-objects.js';
import { awaitObserver, currentObserver, offerObserver } from './api-observer.js';
import { probe } from '../../engine/read-cache.js';
import { apiserverHealthzProbe, apiserverUrl, COMMAND_TIMEOUT_MS, etcdHealthProbe, kubectlArgv, kubectlProbe, outcome, outputTail, type VerifyPaths } from './tools.js';
import { HEALTHY, unhealthy, verification } from './verification.js';

/** Bounds, generous for real hosts and quick where nothing is wrong (the first look passes). */
export const VERIFY_TIMEOUTS = {
  etcdMs: 60_000,
  apiserverMs: 60_000,
  componentsMs: 60_000,
  nodeReadyMs: 120_000,
  intervalMs: 1_000,
};

/** The first control-plane host of the play lends its kubectl to every node's readiness check. */
export function offerApiView(paths: VerifyPaths): ClusterTask {
  const nodeList = kubectlProbe(paths, ['get', 'nodes', '-o', 'json']);
  return {
    name: 'read the API through this host for every node\'s check',
    reads: () => ({ commands: [nodeList] }),
    async check(host, ctx) {
      // The node list read ahead, if any, answers the nodes' first looks without a round trip.
      const seed = ctx.cache ? await ctx.cache.exec(host, nodeList) : undefined;
      offerObserver(ctx.run, host, paths, seed);
      return [];
    },
    async apply() {
      // check never reports changes.
    },
  };
}

export function etcdMemberHealthy(paths: VerifyPaths, member: EtcdMember): ClusterTask {
  const command = etcdHealthProbe(paths, member);
  return verification({
    name: `etcd member ${member.name} healthy`,
    reads: [command],
    timeoutMs: VERIFY_TIMEOUTS.etcdMs,
    intervalMs: VERIFY_TIMEOUTS.intervalMs,
    units: ['etcd'],
    async probe(host, ctx) {
      const r = await probe(host, command, ctx);
      if (r.code === 0 && /is healthy/.test(`${r.stdout}${r.stderr}`)) return HEALTHY;
      return unhealthy(`etcdctl endpoint health ${member.clientUrl} ${outcome(r)}`, ['etcd'], outputTail(r));
    },
  });
}

export function apiserverHealthy(self: ClusterHost, paths: VerifyPaths): ClusterTask {
  const url = `${apiserverUrl(self)}/healthz`;
  const command = apiserverHealthzProbe(paths, self);
  return verification({
    name: `kube-apiserver ${url} ok`,
    reads: [command],
    timeoutMs: VERIFY_TIMEOUTS.apiserverMs,
    intervalMs: VERIFY_TIMEOUTS.intervalMs,
    units: ['kube-apiserver'],
    async probe(host, ctx) {
      const r = await probe(host, command, ctx);
      if (r.code === 0 && r.stdout.trim() === 'ok') return HEALTHY;
      const said = r.code === 0 ? `answered "${r.stdout.trim().slice(0, 200)}"` : outcome(r);
      return unhealthy(`GET ${url} ${said}`, ['kube-apiserver'], outputTail(r));
    },
  });
}

/** kube-apiserver names the etcd members etcd-0… in the order of --etcd-servers. */
export function expectedComponents(topology: Topology): string[] {
  return ['scheduler', 'controller-manager', ...topology.etcd.map((_, i) => `etcd-${i}`)];
}

export function componentsHealthy(self: ClusterHost, paths: VerifyPaths, topology: Topology): ClusterTask {
  const expected = expectedComponents(topology);
  const command = kubectlProbe(paths, ['get', 'componentstatuses', '-o', 'json']);
  return verification({
    name: `component statuses healthy (${expected.join(', ')})`,
    reads: [command],
    timeoutMs: VERIFY_TIMEOUTS.componentsMs,
    intervalMs: VERIFY_TIMEOUTS.intervalMs,
    units: ['kube-apiserver'],
    async probe(host, ctx) {
      const r = await probe(host, command, ctx);
      if (r.code !== 0) return unhealthy(`kubectl get componentstatuses ${outcome(r)}`, ['kube-apiserver'], outputTail(r));
      const seen = new Map(parseComponentStatuses(r.stdout).map((c) => [c.name, c]));
      const problems: string[] = [];
      const units = new Set<string>();
      // An API server started before an etcd member joined (scale.yml restarts nothing) does not
      // list it: alone, that is a warning (each member's own health is checked on its host).
      const unlisted = expected.filter((name) => /^etcd-[1-9]/.test(name) && !seen.has(name));
      let failing = false;
      for (const name of expected) {
        const c = seen.get(name);
        if (c?.healthy) continue;
        problems.push(`${name} ${c ? `unhealthy: ${c.detail}` : 'missing'}`);
        if (unlisted.includes(name)) continue;
        failing = true;
        // The API server probes the scheduler and controller-manager on its own host.
        if (name === 'scheduler') units.add('kube-scheduler');
        else if (name === 'controller-manager') units.add('kube-controller-manager');
        else if (self.isEtcd) units.add('etcd');
      }
      if (failing) return unhealthy(`component statuses: ${problems.join('; ')}`, [...units]);
      if (unlisted.length > 0) {
        const listed = topology.etcd.length - unlisted.length;
        ctx.warn(`kube-apiserver on ${self.name} knows ${listed} of the ${topology.etcd.length} etcd members (its --etcd-servers): \`kprov apply cluster\` gives it every member, with a rolling restart of kube-apiserver`);
      }
      return HEALTHY;
    },
  });
}

/** This node registered under its inventory name and Ready, read through the run's observer. */
export function nodeReady(self: ClusterHost, observerName: string): ClusterTask {
  return verification({
    name: `node ${self.name} Ready`,
    timeoutMs: VERIFY_TIMEOUTS.nodeReadyMs,
    intervalMs: VERIFY_TIMEOUTS.intervalMs,
    units: ['kubelet'],
    async probe(_host, ctx) {
      // The first control-plane host offers it after its own read-ahead: wait for that briefly
      // rather than a whole poll interval (a plan looks only once, so it waits longer).
      const observer = await awaitObserver(ctx.run, ctx.dryRun ? 10_000 : VERIFY_TIMEOUTS.intervalMs);
      if (!observer) return unhealthy(`the node list could not be read: ${observerName} has not offered its kubectl (see its own result)`, []);
      const node = (await observer.nodes(VERIFY_TIMEOUTS.intervalMs / 2)).find((n) => n.name === self.name);
      if (!node) return unhealthy(`node ${self.name} has not registered with the API server`, ['kubelet']);
      return node.ready?.status === 'True' ? HEALTHY : unhealthy(notReadyReason(node), ['kubelet']);
    },
  });
}

/** Every registered node is one the inventory names (a stale one shows up here). */
export function nodesMatchInventory(paths: VerifyPaths, topology: Topology): ClusterTask {
  const known = new Set(topology.nodes.map((n) => n.host.name));
  return verification({
    name: 'registered nodes are the inventory\'s',
    timeoutMs: 0,
    intervalMs: VERIFY_TIMEOUTS.intervalMs,
    units: [],
    hint: 'a host removed from the inventory stays registered: kubectl delete node NAME',
    async probe(host, ctx) {
      // The node list the nodes' own checks just read is fresh enough; else ask once.
      const observer = currentObserver(ctx.run);
      let names: string[];
      if (observer) {
        names = (await observer.nodes(5_000)).map((n) => n.name);
      } else {
        const r = await host.exec(kubectlArgv(paths, ['get', 'nodes', '-o', 'json']), { timeoutMs: COMMAND_TIMEOUT_MS });
        if (r.code !== 0) return unhealthy(`kubectl get nodes ${outcome(r)}`, ['kube-apiserver'], outputTail(r));
        names = parseNodes(r.stdout).map((n) => n.name);
      }
      const extra = names.filter((n) => !known.has(n));
      return extra.length === 0 ? HEALTHY : unhealthy(`nodes registered that the inventory does not name: ${extra.join(', ')}`, []);
    },
  });
}
