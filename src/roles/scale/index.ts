/**
 * The `scale-preflight` role: scale.yml adds workers and etcd members to a running cluster and
 * does not set up the control plane. On each control-plane host of its play it checks that
 * kube-apiserver is installed there already (one `systemctl show`, read ahead with the play's
 * other reads); a control-plane host without it (a new one, or no cluster yet) fails the
 * preflight play, before any role changes anything, naming `kprov apply cluster`. Other hosts
 * get no task.
 */
import { KprovError } from '../../errors.js';
import { unitOf } from '../../engine/tasks/index.js';
import type { ClusterRole, ClusterTask } from '../../cluster/run.js';

const APISERVER_UNIT = 'kube-apiserver.service';

const controlPlaneInstalled: ClusterTask = {
  name: 'control plane already there (scale adds workers and etcd members)',
  reads: () => ({ units: [APISERVER_UNIT] }),
  async check(host, ctx) {
    const state = await unitOf(host, APISERVER_UNIT, ctx);
    if (state.loadState !== 'loaded') {
      throw new KprovError('host', `${host.name} is a control-plane host without ${APISERVER_UNIT}: scale adds workers and etcd members to a running cluster and does not set up a control plane`, {
        host: host.name,
        hint: 'kprov apply cluster builds the cluster and adds control-plane hosts; this run stopped at preflight, before any service was installed',
      });
    }
    return [];
  },
  async apply() {
    // check never reports changes.
  },
};

export const scalePreflightRole: ClusterRole = {
  name: 'scale-preflight',
  tags: ['preflight'],
  tasks(ctx) {
    const self = ctx.run.topology.hosts.find((h) => h.name === ctx.host.name);
    return self?.isControlPlane ? [controlPlaneInstalled] : [];
  },
};
