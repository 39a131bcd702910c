/**
 * The `node` role: on every k8s_cluster host, the kubelet (a KubeletConfiguration file, the
 * node's certificates and kubeconfig, containerd over CRI, the CNI bridge network) and kube-proxy
 * (a KubeProxyConfiguration file), both as systemd units, enabled, active and healthy. Each
 * component's files notify only its own restart, so changing kube_proxy_mode restarts kube-proxy
 * and nothing else.
 */
import { artifactBinaries, DOWNLOAD_TAG } from '../../cluster/artifact-binaries.js';
import { renderUnit } from '../../cluster/flags.js';
import { pkiFileTasks, type PkiHostFile } from '../../cluster/pki.js';
import { directory, file, restartHandler, service } from '../../engine/tasks/index.js';
import type { ClusterRenderContext, ClusterRole, ClusterRun, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import { healthyTask, httpHealth } from './health.js';
import { API_PROXY_TAGS, apiProxyHealthTasks, apiProxyTasks } from './api-proxy.js';
import { KprovError } from '../../errors.js';
import type { ClusterHost } from '../../cluster/topology.js';
import { versionMarkerTask } from '../upgrade/version.js';
import { KUBE_PROXY_CONFIG, KUBE_PROXY_DIR, KUBE_PROXY_HEALTHZ_PORT, KUBELET_CONFIG, KUBELET_DIR, KUBELET_HEALTHZ_PORT, kubeletExtraArgs, nodeTemplateVars } from './settings.js';

export const RESTART_KUBELET = 'restart kubelet';
export const RESTART_KUBE_PROXY = 'restart kube-proxy';
export const KUBELET_UNIT_PATH = '/etc/systemd/system/kubelet.service';
export const KUBE_PROXY_UNIT_PATH = '/etc/systemd/system/kube-proxy.service';
export const KUBELET_HEALTH = { unit: 'kubelet.service', port: KUBELET_HEALTHZ_PORT, path: '/healthz' };
export const KUBE_PROXY_HEALTH = { unit: 'kube-proxy.service', port: KUBE_PROXY_HEALTHZ_PORT, path: '/healthz' };

export interface NodeFilesRendered {
  kubeletConfig: string;
  kubeletUnit: string;
  proxyConfig: string;
  proxyUnit: string;
  staticPodPath: string;
}

function clusterHost(ctx: ClusterRenderContext, host: string): ClusterHost {
  const found = ctx.run.topology.hosts.find((h) => h.name === host);
  if (!found) throw new KprovError('internal', `${host} runs the node role but is not a cluster host`, { host });
  return found;
}

/** The kubelet's and kube-proxy's configs and units for one host, rendered and flag-checked. */
export function renderNodeFiles(ctx: ClusterRenderContext, host: string): NodeFilesRendered {
  const t = nodeTemplateVars(ctx.run.topology, ctx.run.inventory.hostVars(host), host);
  return {
    kubeletConfig: ctx.render('node/kubelet-config.yaml.j2', t.kubeletConfig),
    kubeletUnit: renderUnit(ctx, 'node/kubelet.service.j2', t.kubeletUnit, 'kubelet', kubeletExtraArgs(clusterHost(ctx, host), ctx.run.inventory.hostVars(host))),
    proxyConfig: ctx.render('node/kube-proxy-config.yaml.j2', t.proxyConfig),
    proxyUnit: renderUnit(ctx, 'node/kube-proxy.service.j2', t.proxyUnit, 'kube-proxy'),
    staticPodPath: t.staticPodPath,
  };
}

/** A changed file restarts its readers (the certificate table says who they are). */
export function restartFor(f: PkiHostFile): readonly string[] {
  return [...(f.readers.includes('kubelet') ? [RESTART_KUBELET] : []), ...(f.readers.includes('kube-proxy') ? [RESTART_KUBE_PROXY] : [])];
}

export const KUBELET = ['kubelet'];
const KUBE_PROXY = ['kube-proxy'];

export const kubeletHealth = KUBELET_HEALTH;
const proxyHealth = KUBE_PROXY_HEALTH;

export const restartKubelet = restartHandler<ClusterRun>({ name: RESTART_KUBELET, unit: kubeletHealth.unit, timeoutMs: 90_000, healthy: httpHealth(kubeletHealth.port, kubeletHealth.path) });

/**
 * The kubelet's own tasks: its files (`beforeStart` goes in once the static pod directory exists),
 * then its start and health, apart, so a role can write every file before any service starts (a
 * file written after a start would make a notified restart run). Also run before the static
 * control plane (static-pod-kubelet.ts).
 */
export async function kubeletTasks(
  ctx: ClusterTaskContext,
  files: NodeFilesRendered,
  extra: { beforeStart?: ClusterTask[]; notify?: (f: PkiHostFile) => readonly string[] } = {},
): Promise<{ files: ClusterTask[]; start: ClusterTask; healthy: ClusterTask }> {
  return {
    files: [
      artifactBinaries({ name: 'kubelet binary', artifact: 'kubelet', notify: [RESTART_KUBELET], tags: KUBELET }),
      // The version these binaries are, for apply cluster and upgrade-cluster to read. Written
      // before the units start: a file written after a start would make its restart handlers run.
      versionMarkerTask(ctx, KUBELET),
      ...(await pkiFileTasks(ctx, ['node'], { notify: extra.notify ?? restartFor })),
      directory({ path: files.staticPodPath, mode: 0o755 }),
      ...(extra.beforeStart ?? []),
      directory({ path: KUBELET_DIR, mode: 0o755, tags: KUBELET }),
      file({ path: KUBELET_CONFIG, content: files.kubeletConfig, mode: 0o644, notify: [RESTART_KUBELET], tags: KUBELET }),
      file({ path: KUBELET_UNIT_PATH, content: files.kubeletUnit, mode: 0o644, notify: [RESTART_KUBELET], tags: KUBELET }),
    ],
    start: service({ unit: kubeletHealth.unit, tags: KUBELET }),
    healthy: { ...healthyTask('kubelet healthy (healthz)', kubeletHealth), tags: KUBELET },
  };
}

export const nodeRole: ClusterRole = {
  name: 'node',
  tags: ['node'],
  // Kubespray's tags for the two components, so --tags kubelet touches only the kubelet.
  taskTags: [DOWNLOAD_TAG, 'kubelet', 'kube-proxy', ...API_PROXY_TAGS],
  handlers: [
    restartKubelet,
    restartHandler({ name: RESTART_KUBE_PROXY, unit: proxyHealth.unit, timeoutMs: 90_000, healthy: httpHealth(proxyHealth.port, proxyHealth.path) }),
  ],
  validate(ctx) {
    // Every host's units render and pass the v1.13 flag check before any host of the playbook is touched.
    for (const h of ctx.hosts) {
      const files = renderNodeFiles(ctx, h.name);
      apiProxyTasks(ctx, clusterHost(ctx, h.name), files.staticPodPath);
    }
  },
  async tasks(ctx) {
    const files = renderNodeFiles(ctx, ctx.host.name);
    const host = clusterHost(ctx, ctx.host.name);
    // The API proxy's files before the kubelet starts: on a worker it is the kubelet's way to the API.
    const kubelet = await kubeletTasks(ctx, files, { beforeStart: apiProxyTasks(ctx, host, files.staticPodPath) });
    return [
      ...kubelet.files,
      artifactBinaries({ name: 'kube-proxy binary', artifact: 'kube-proxy', notify: [RESTART_KUBE_PROXY], tags: KUBE_PROXY }),
      directory({ path: KUBE_PROXY_DIR, mode: 0o755, tags: KUBE_PROXY }),
      file({ path: KUBE_PROXY_CONFIG, content: files.proxyConfig, mode: 0o644, notify: [RESTART_KUBE_PROXY], tags: KUBE_PROXY }),
      file({ path: KUBE_PROXY_UNIT_PATH, content: files.proxyUnit, mode: 0o644, notify: [RESTART_KUBE_PROXY], tags: KUBE_PROXY }),
      kubelet.start,
      service({ unit: proxyHealth.unit, tags: KUBE_PROXY }),
      kubelet.healthy,
      ...apiProxyHealthTasks(ctx, host, files.staticPodPath),
      { ...healthyTask('kube-proxy healthy (healthz)', proxyHealth), tags: KUBE_PROXY },
    ];
  },
};
