/**
 * Kubespray renamed its groups (kube-master → kube_control_plane, …). Inventories of both eras
 * are read, and every old name is mapped to the current one as soon as it is read: in INI
 * sections, in :children lists and in group_vars file and directory names.
 */
import { GROUP } from './model.js';

const OLD_TO_NEW: Readonly<Record<string, string>> = {
  'kube-master': GROUP.controlPlane,
  kube_master: GROUP.controlPlane,
  'kube-node': GROUP.node,
  'k8s-cluster': GROUP.k8sCluster,
  'calico-rr': GROUP.calicoRr,
};

/** The current Kubespray name for a group name of either era; other names are kept as written. */
export function canonicalGroupName(name: string): string {
  return OLD_TO_NEW[name] ?? name;
}

/** True for the old names (`kube-master`, `k8s-cluster`, …). */
export function isOldGroupName(name: string): boolean {
  return name in OLD_TO_NEW;
}

/** Group names Ansible accepts in INI section headers (it warns about dashes, which old Kubespray used). */
export const GROUP_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
