/**
 * The `preinstall` role: facts and preflight on every host before anything changes. One task per
 * host runs every check and reports all of that host's failures together in one error; it never
 * changes anything (settings such as ip_forward belong to the runtime and cni roles). Since the
 * engine stops the playbook after a play with a failed host, a failed preflight means no host was
 * changed by the roles that follow.
 */
import { KprovError } from '../../errors.js';
import type { ClusterRole, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import { formatFailures, preflightFailures, type HostDuties, type PreflightSettings } from './checks.js';
import { requireSupportedModes } from '../../cluster/deployment-mode.js';
import { peerHostnames, registerPeer, resetPeers } from './peers.js';
import { probeHost } from './probe.js';

function dutiesOf(ctx: ClusterTaskContext): HostDuties {
  const me = ctx.run.topology.hosts.find((h) => h.name === ctx.host.name);
  return { controlPlane: me?.isControlPlane ?? false, etcd: me?.isEtcd ?? false, node: me?.isNode ?? false };
}

function settingsOf(ctx: ClusterTaskContext): PreflightSettings {
  const vars = ctx.run.inventory.hostVars(ctx.host.name);
  return {
    minMemoryMbControlPlane: vars.preflight_min_memory_mb_control_plane,
    minMemoryMbNode: vars.preflight_min_memory_mb_node,
    apiserverPort: vars.kube_apiserver_port,
  };
}

const preflightTask: ClusterTask = {
  name: 'preflight checks',
  async check(host, ctx) {
    const facts = await ctx.facts();
    const probe = await probeHost(host);
    const otherHostnames = await peerHostnames(ctx.run, ctx.host.name);
    const failures = preflightFailures({ facts, probe, duties: dutiesOf(ctx), settings: settingsOf(ctx), otherHostnames });
    if (failures.length > 0) {
      throw new KprovError('host', formatFailures(failures), {
        host: host.name,
        hint: 'fix every item above and run again; preflight changed nothing on any host',
      });
    }
    return [];
  },
  async apply() {
    // check never reports changes: preflight only reads.
  },
};

export const preinstallRole: ClusterRole = {
  name: 'preinstall',
  tags: ['preinstall', 'preflight'],
  validate(ctx) {
    requireSupportedModes(ctx.run);
    const leaving = ctx.run.topology.leaving.map((h) => h.name);
    if (leaving.length > 0) {
      // cluster.yml builds every host of the inventory; `node` is remove-node.yml's.
      throw new KprovError('usage', `node=${leaving.join(',')} names hosts to take out of the cluster, which cluster.yml does not do`, {
        hint: `kprov apply remove-node -e node=${leaving.join(',')}; afterwards delete them from the inventory`,
      });
    }
  },
  async prepare(ctx) {
    resetPeers(ctx.run);
  },
  tasks(ctx) {
    registerPeer(ctx.run, ctx.host.name, ctx.facts);
    return [preflightTask];
  },
};
