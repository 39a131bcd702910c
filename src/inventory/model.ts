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

/** What kind of warning, so callers (and `--strict`) can tell them apart. */
export type InventoryWarningCode =
  | 'unknown-variable'
  | 'kubespray-differs'
  | 'ignored-file'
  | 'duplicate-key'
  | 'unused-vars-file'
  | 'group-alias'
  | 'etcd-even'
  | 'no-nodes'
  | 'key-file';

export interface InventoryWarning {
  message: string;
  location?: SourceLocation;
  code?: InventoryWarningCode;
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
  /**
   * The variables the inventory sets for this host, after precedence and expression evaluation:
   * those kprov understands typed by their schema ("6443" → 6443), others as evaluated, or as
   * written when they cannot be evaluated. kprov's defaults are not included: read them, with
   * everything validated, from Inventory.hostVars(name).
   */
  vars: Record<string, unknown>;
}
