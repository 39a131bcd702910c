/**
 * What a Kubespray user should write instead, for values Kubespray accepts and kprov does not:
 * its defaults of older releases (Docker, etcd in Docker) and Kubernetes versions kprov does not
 * provision. Shown as the hint under the error.
 */
const HINTS: Readonly<Record<string, (found: unknown) => string | undefined>> = {
  container_manager: (found) =>
    found === 'docker' || found === 'crio' || found === 'cri-o'
      ? `kprov installs containerd (with runc and the CNI plugins), not ${String(found)}: set container_manager: containerd (Kubespray's docker_* settings have no effect)`
      : undefined,
  etcd_deployment_type: (found) =>
    found === 'docker'
      ? "Kubespray's docker mode runs etcd in a Docker container; kprov runs it as a systemd unit or as kubeadm's static pod: set etcd_deployment_type: host (or static_pod)"
      : undefined,
  dns_mode: (found) =>
    found === 'coredns_dual' || found === 'manual' || found === 'kubedns'
      ? `kprov deploys one cluster DNS, CoreDNS at skydns_server: set dns_mode: coredns (or none, and serve DNS at skydns_server yourself); ${String(found)} is not available`
      : undefined,
  kube_network_plugin: (found) =>
    typeof found === 'string'
      ? `kprov installs one pod network, its own: the CNI bridge plugin on every node with routes between the nodes' pod CIDRs (no overlay, no network policy); set kube_network_plugin: bridge (${found} settings have no effect)`
      : undefined,
  kube_version: (found) =>
    typeof found === 'string' && /^v?1\.\d+\.\d+/.test(found) && !/^v?1\.13\./.test(found)
      ? `kprov provisions Kubernetes v1.13 only: set kube_version: v1.13.5 (Kubespray v2.9's default) or another v1.13.x`
      : undefined,
};

export function migrationHint(variable: string, found: unknown): string | undefined {
  return HINTS[variable]?.(found);
}
