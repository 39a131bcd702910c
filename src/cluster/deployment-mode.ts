/**
 * The deployment modes this version implements: etcd and the control plane as systemd units
 * (`host`). The static-pod modes are future work, refused before any host is contacted by every
 * role that would need them (preinstall, etcd, control-plane).
 */
import { KprovError } from '../errors.js';
import type { ClusterRun } from './run.js';

const HINTS = {
  etcd_deployment_type: 'set etcd_deployment_type: host (kprov runs etcd as a systemd unit; the static-pod mode is future work)',
  control_plane_deployment_type: 'set control_plane_deployment_type: host (kprov runs the control plane as systemd units; the static-pod mode is future work)',
} as const;

export function requireHostMode(run: ClusterRun): void {
  const cluster = run.inventory.cluster;
  for (const variable of ['etcd_deployment_type', 'control_plane_deployment_type'] as const) {
    if (cluster[variable] !== 'host') {
      throw new KprovError('config', `${variable}: ${cluster[variable]} is not supported yet`, { hint: HINTS[variable] });
    }
  }
}
