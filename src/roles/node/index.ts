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
import type { ClusterRenderContext, ClusterRole } from '../../cluster/run.js';
import { healthyTask, httpHealth } from './health.js';
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

function clusterHost(ctx: ClusterRenderContext, host: string): { isControlPlane: boolean; isWorker: boolean } {
  const found = ctx.run.topology.hosts.find((h) => h.name === host);
  return { isControlPlane: found?.isControlPlane ?? false, isWorker: found?.isWorker ?? false };
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
function restartFor(f: PkiHostFile): readonly string[] {
  return [...(f.readers.includes('kubelet') ? [RESTART_KUBELET] : []), ...(f.readers.includes('kube-proxy') ? [RESTART_KUBE_PROXY] : [])];
}

const KUBELET = ['kubelet'];
const KUBE_PROXY = ['kube-proxy'];

const kubeletHealth = KUBELET_HEALTH;
const proxyHealth = KUBE_PROXY_HEALTH;

export const nodeRole: ClusterRole = {
  name: 'node',
  tags: ['node'],
  // Kubespray's tags for the two components, so --tags kubelet touches only the kubelet.
  taskTags: [DOWNLOAD_TAG, 'kubelet', 'kube-proxy'],
  handlers: [
    restartHandler({ name: RESTART_KUBELET, unit: kubeletHealth.unit, timeoutMs: 90_000, healthy: httpHealth(kubeletHealth.port, kubeletHealth.path) }),
    restartHandler({ name: RESTART_KUBE_PROXY, unit: proxyHealth.unit, timeoutMs: 90_000, healthy: httpHealth(proxyHealth.port, proxyHealth.path) }),
  ],
  validate(ctx) {
    // Every host's units render and pass the v1.13 flag check before any host of the playbook is touched.
    for (const h of ctx.hosts) renderNodeFiles(ctx, h.name);
  },
  async tasks(ctx) {
    const files = renderNodeFiles(ctx, ctx.host.name);
    return [
      artifactBinaries({ name: 'kubelet binary', artifact: 'kubelet', notify: [RESTART_KUBELET], tags: KUBELET }),
      artifactBinaries({ name: 'kube-proxy binary', artifact: 'kube-proxy', notify: [RESTART_KUBE_PROXY], tags: KUBE_PROXY }),
      // The version these binaries are, for apply cluster and upgrade-cluster to read. Written
      // before the units start: a file written after a start would make its restart handlers run.
      versionMarkerTask(ctx, KUBELET),
      ...(await pkiFileTasks(ctx, ['node'], { notify: restartFor })),
      directory({ path: files.staticPodPath, mode: 0o755 }),
      directory({ path: KUBELET_DIR, mode: 0o755, tags: KUBELET }),
      file({ path: KUBELET_CONFIG, content: files.kubeletConfig, mode: 0o644, notify: [RESTART_KUBELET], tags: KUBELET }),
      file({ path: KUBELET_UNIT_PATH, content: files.kubeletUnit, mode: 0o644, notify: [RESTART_KUBELET], tags: KUBELET }),
      directory({ path: KUBE_PROXY_DIR, mode: 0o755, tags: KUBE_PROXY }),
      file({ path: KUBE_PROXY_CONFIG, content: files.proxyConfig, mode: 0o644, notify: [RESTART_KUBE_PROXY], tags: KUBE_PROXY }),
      file({ path: KUBE_PROXY_UNIT_PATH, content: files.proxyUnit, mode: 0o644, notify: [RESTART_KUBE_PROXY], tags: KUBE_PROXY }),
      service({ unit: kubeletHealth.unit, tags: KUBELET }),
      service({ unit: proxyHealth.unit, tags: KUBE_PROXY }),
      { ...healthyTask('kubelet healthy (healthz)', kubeletHealth), tags: KUBELET },
      { ...healthyTask('kube-proxy healthy (healthz)', proxyHealth), tags: KUBE_PROXY },
    ];
  },
};
