/**
 * The `cni` role: the CNI plugins in /opt/cni/bin, one bridge network per node (host-local IPAM
 * over the node's slice of kube_pods_subnet, the bridge as the pods' gateway, masquerading out of
 * the cluster, hostPort mappings), bridge netfilter, and a route on each node to every other
 * node's pod CIDR through that node (pods on different nodes talk without an overlay, so the
 * nodes must share a layer-2 network). The routes are set directly and restored at boot by a
 * small oneshot unit, kprov-pod-routes.service. The `pod-routes` role (routes-role.ts) is that
 * last part alone, for the nodes scale.yml does not otherwise touch.
 */
import { CNI_BIN_DIR } from '../../artifacts/catalogue.js';
import { artifactBinaries, DOWNLOAD_TAG } from '../../cluster/artifact-binaries.js';
import { renderUnit } from '../../cluster/flags.js';
import { directory, file, service } from '../../engine/tasks/index.js';
import { CNI_CONF_DIR } from '../runtime/containerd.js';
import type { ClusterRenderContext, ClusterRole, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import { bridgeNetfilter } from './bridge-netfilter.js';
import { cniSpecVersion, podNetworkOf } from './network.js';
import { podRoutes, ROUTE_PROTO } from './pod-routes.js';

export const CNI_CONFLIST = `${CNI_CONF_DIR}/10-kprov-bridge.conflist`;
export const POD_ROUTES_UNIT = 'kprov-pod-routes.service';
export const CNI_NETWORK_NAME = 'kprov';
export const CNI_BRIDGE = 'cni0';
/** The plugins the network config names; the artifact must provide them. */
export const CNI_PLUGINS = ['loopback', 'bridge', 'host-local', 'portmap'] as const;

/** The network config and the routes unit of one node, rendered strictly. */
export function renderCniFiles(ctx: ClusterRenderContext, host: string): { conflist: string; routesUnit: string } {
  const vars = ctx.run.inventory.hostVars(host);
  const net = podNetworkOf(ctx.run.topology, host);
  const conflist = ctx.render('cni/cni-bridge.conflist.j2', {
    cni_spec_version: cniSpecVersion(vars.cni_version),
    network_name: CNI_NETWORK_NAME,
    bridge: CNI_BRIDGE,
    pod_cidr: net.podCidr,
    gateway: net.gateway,
    default_route: net.family === 4 ? '0.0.0.0/0' : '::/0',
  });
  return { conflist, routesUnit: renderRoutesUnit(ctx, host) };
}

/** The unit that restores the node's pod routes at boot, rendered strictly. */
export function renderRoutesUnit(ctx: ClusterRenderContext, host: string): string {
  const net = podNetworkOf(ctx.run.topology, host);
  return renderUnit(ctx, 'cni/kprov-pod-routes.service.j2', { routes: net.routes, proto: ROUTE_PROTO, ip_command: '/sbin/ip' }, 'none');
}

/**
 * The node's routes to every other node's pod CIDR, live and in the unit that restores them at
 * boot. Neither restarts anything: the routes change in place, and a changed unit file is only
 * reloaded (the oneshot unit stays active; it runs again at the next boot).
 */
export function podRouteTasks(ctx: ClusterTaskContext, routesUnit: string): ClusterTask[] {
  const net = podNetworkOf(ctx.run.topology, ctx.host.name);
  return [
    // Live routes first: a refused `ip route` fails here with its own message.
    podRoutes(net.routes),
    file({ path: `/etc/systemd/system/${POD_ROUTES_UNIT}`, content: routesUnit, mode: 0o644 }),
    service({ unit: POD_ROUTES_UNIT }),
  ];
}

export const cniRole: ClusterRole = {
  name: 'cni',
  tags: ['cni', 'network'],
  taskTags: [DOWNLOAD_TAG],
  validate(ctx) {
    for (const h of ctx.hosts) renderCniFiles(ctx, h.name);
  },
  tasks(ctx) {
    const { conflist, routesUnit } = renderCniFiles(ctx, ctx.host.name);
    return [
      bridgeNetfilter(),
      artifactBinaries({ name: 'CNI plugins', artifact: 'cni', expect: CNI_PLUGINS.map((p) => `${CNI_BIN_DIR}/${p}`) }),
      directory({ path: CNI_CONF_DIR, mode: 0o755 }),
      file({ path: CNI_CONFLIST, content: conflist, mode: 0o644 }),
      ...podRouteTasks(ctx, routesUnit),
    ];
  },
};
