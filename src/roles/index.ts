/**
 * The roles kprov ships, by the name playbooks use. A playbook naming a role that is not here
 * fails before any host is touched, with "unknown role". The CLI hands this list to the engine.
 */
import { RoleRegistry } from '../engine/role-registry.js';
import type { ClusterRole, ClusterRun } from '../cluster/run.js';
import { checkRole } from './check/index.js';
import { cniRole } from './cni/index.js';
import { podRoutesRole } from './cni/routes-role.js';
import { dnsRole } from './dns/index.js';
import { controlPlaneRole } from './control-plane/index.js';
import { etcdRole } from './etcd/index.js';
import { factsRole } from './facts/index.js';
import { nodeRole } from './node/index.js';
import { staticPodKubeletRole } from './node/static-pod-kubelet.js';
import { preinstallRole } from './preinstall/index.js';
import { postRemoveRole, preRemoveRole } from './remove-node/index.js';
import { stayingControlPlaneRole, stayingNodesRole } from './remove-node/staying.js';
import { resetRole } from './reset/index.js';
import { runtimeRole } from './runtime/index.js';
import { scalePreflightRole } from './scale/index.js';
import { sshKeysRole } from './ssh-keys/index.js';
import { verifyRole } from './verify/index.js';
import { upgradeControlPlaneRole, upgradeEtcdRole, upgradeNodeRole, upgradePreflightRole, upgradeSnapshotRole } from './upgrade/index.js';
import { kubeVersionRole } from './upgrade/version.js';

export const builtinRoles: readonly ClusterRole[] = [sshKeysRole, factsRole, verifyRole, preinstallRole, scalePreflightRole, runtimeRole, cniRole, podRoutesRole, etcdRole, staticPodKubeletRole, controlPlaneRole, nodeRole, dnsRole, checkRole, resetRole, preRemoveRole, postRemoveRole, kubeVersionRole, upgradePreflightRole, upgradeSnapshotRole, upgradeEtcdRole, upgradeControlPlaneRole, upgradeNodeRole, stayingControlPlaneRole, stayingNodesRole];

export function builtinRoleRegistry(): RoleRegistry<ClusterRun> {
  return new RoleRegistry(builtinRoles);
}
