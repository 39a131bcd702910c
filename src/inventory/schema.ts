/**
 * The variables kprov understands, assembled from where each is declared once (schema, default,
 * scope): next to the code that reads it. Kubespray's names, kprov's defaults. The order here is
 * the order variables are validated and shown in.
 */
import { z } from 'zod';
import { ARTIFACT_VAR_NAMES } from '../artifacts/ids.js';
import { ARTIFACT_VARIABLES } from '../artifacts/variables.js';
import { CLUSTER_VARIABLES } from '../cluster/variables.js';
import { PKI_VARIABLES } from '../pki/variables.js';
import { CHECK_VARIABLES } from '../roles/check/variables.js';
import { CNI_VARIABLES } from '../roles/cni/variables.js';
import { CONTROL_PLANE_VARIABLES } from '../roles/control-plane/variables.js';
import { DNS_VARIABLES } from '../roles/dns/variables.js';
import { ETCD_VARIABLES } from '../roles/etcd/variables.js';
import { API_PROXY_VARIABLES, NODE_VARIABLES } from '../roles/node/variables.js';
import { PREINSTALL_VARIABLES } from '../roles/preinstall/variables.js';
import { REMOVE_NODE_VARIABLES } from '../roles/remove-node/variables.js';
import { RESET_VARIABLES } from '../roles/reset/variables.js';
import { RUNTIME_VARIABLES } from '../roles/runtime/variables.js';
import { SSH_KEYS_VARIABLES } from '../roles/ssh-keys/variables.js';
import { UPGRADE_VARIABLES } from '../roles/upgrade/variables.js';
import { HOST_VARIABLES } from './host-variables.js';
import { defaultsOf, identityKeys, scopesOf, shapeOf, type AgreementScope } from './variables.js';

export type { AgreementScope };

const VARIABLES = {
  ...HOST_VARIABLES,
  ...SSH_KEYS_VARIABLES,
  ...ETCD_VARIABLES,
  ...CLUSTER_VARIABLES,
  ...CONTROL_PLANE_VARIABLES,
  ...RUNTIME_VARIABLES,
  ...CNI_VARIABLES,
  ...NODE_VARIABLES,
  ...API_PROXY_VARIABLES,
  ...DNS_VARIABLES,
  ...CHECK_VARIABLES,
  ...RESET_VARIABLES,
  ...REMOVE_NODE_VARIABLES,
  ...UPGRADE_VARIABLES,
  ...PREINSTALL_VARIABLES,
  ...PKI_VARIABLES,
  ...ARTIFACT_VARIABLES,
};

/** The artifacts whose download URL and checksum can be overridden (`<name>_download_url`, `<name>_checksum`). */
export const ARTIFACT_VAR_PREFIXES = ARTIFACT_VAR_NAMES;

export const hostVarsSchema = z.object(shapeOf(VARIABLES));

export type HostVars = z.output<typeof hostVarsSchema>;
export type KnownVariable = keyof typeof hostVarsSchema.shape;

/** Variables about one host (how to reach it, its addresses and identity), not the cluster. */
export const HOST_IDENTITY_KEYS: readonly KnownVariable[] = identityKeys(VARIABLES);

export const clusterVarsSchema = hostVarsSchema.omit({
  ansible_host: true,
  ip: true,
  access_ip: true,
  ansible_user: true,
  ansible_port: true,
  ansible_ssh_private_key_file: true,
  ansible_become: true,
  ansible_become_user: true,
  etcd_member_name: true,
});

export type ClusterVars = z.output<typeof clusterVarsSchema>;

/**
 * kprov's defaults. Strings may be expressions, evaluated like inventory values (dns_domain
 * follows cluster_name, the service addresses follow kube_service_addresses). Variables without
 * a default are optional.
 */
export const DEFAULTS: Readonly<Partial<Record<KnownVariable, unknown>>> = defaultsOf(VARIABLES);

/**
 * Cluster-wide variables and the hosts that must see one value: Kubernetes settings on the
 * k8s_cluster hosts, etcd settings on the etcd hosts, downloads on both. The `cluster` view takes
 * each from the first host of its scope.
 */
export const CLUSTER_WIDE: Readonly<Partial<Record<KnownVariable, AgreementScope>>> = scopesOf(VARIABLES);

/**
 * Ansible's older spellings of connection variables. When both are set the current name wins,
 * as in Ansible; the old one is used only when the current one is not set anywhere.
 */
export const VARIABLE_ALIASES: Readonly<Record<string, KnownVariable>> = {
  ansible_ssh_host: 'ansible_host',
  ansible_ssh_user: 'ansible_user',
  ansible_ssh_port: 'ansible_port',
  ansible_private_key_file: 'ansible_ssh_private_key_file',
};

export function isKnownVariable(name: string): name is KnownVariable {
  return name in hostVarsSchema.shape;
}
