/**
 * The deployment modes this version implements: etcd as a systemd unit (`host`), the control
 * plane as systemd units or as kubeadm's static pods. etcd's static-pod mode is future work,
 * refused before any host is contacted by every role that would need it (preinstall, etcd,
 * control-plane).
 */
import { KprovError } from '../errors.js';
import type { ClusterRun } from './run.js';

export function requireSupportedModes(run: ClusterRun): void {
  const cluster = run.inventory.cluster;
  if (cluster.etcd_deployment_type !== 'host') {
    throw new KprovError('config', `etcd_deployment_type: ${cluster.etcd_deployment_type} is not supported yet`, {
      hint: 'set etcd_deployment_type: host (kprov runs etcd as a systemd unit; its static-pod mode is future work)',
    });
  }
}
