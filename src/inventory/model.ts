/**
 * The typed model of an inventory, as produced by loadInventory(). Every other part of kprov
 * reads hosts and variables from here, never from the files.
 */
import type { SourceLocation } from '../errors.js';

/** Canonical (current Kubespray) group names; the old dashed names are mapped onto these. */
export const GROUP = {
  all: 'all',
  ungrouped: 'ungrouped',
  controlPlane: 'kube_control_plane',
  node: 'kube_node',
  k8sCluster: 'k8s_cluster',
  etcd: 'etcd',
  calicoRr: 'calico_rr',
  bastion: 'bastion',
} as const;

export interface InventoryWarning {
  message: string;
  location?: SourceLocation;
}

export interface InventoryHost {
  name: string;
  /** How to reach the host over SSH: ansible_host, else the name. */
  address: string;
  /** `ip`: the address cluster services bind to and advertise. */
  ip?: string;
  /** `access_ip`: the address other hosts use to reach this one. */
  accessIp?: string;
  /** Every group the host is in, directly or through :children, canonical names, sorted, incl. all. */
  groups: string[];
  /** Merged variables after precedence and expression evaluation (unevaluable unknowns stay raw). */
  vars: Record<string, unknown>;
}
