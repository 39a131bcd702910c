/**
 * What the deployment modes need of the inventory, checked before any host is contacted by every
 * role that depends on them (preinstall, etcd, control-plane): etcd as a static pod runs under a
 * kubelet, so every etcd host must be a Kubernetes node (kubeadm's stacked etcd).
 */
import { KprovError } from '../errors.js';
import type { ClusterRun } from './run.js';

export function requireSupportedModes(run: ClusterRun): void {
  if (run.inventory.cluster.etcd_deployment_type !== 'static_pod') return;
  const notNodes = run.topology.etcd.filter((m) => !m.host.isNode).map((m) => m.host.name);
  if (notNodes.length > 0) {
    throw new KprovError('config', `etcd_deployment_type: static_pod runs etcd under the kubelet, but ${notNodes.join(', ')} ${notNodes.length === 1 ? 'is' : 'are'} in etcd and not in k8s_cluster`, {
      hint: 'add those hosts to kube_control_plane or kube_node (kubeadm stacks etcd on control-plane hosts), or set etcd_deployment_type: host',
    });
  }
}
