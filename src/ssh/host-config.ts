/**
 * The SSH view of an inventory host: the connection variables Ansible and Kubespray use, validated
 * once here. Inventory values arrive as INI strings ("2222", "yes") or YAML scalars.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { KprovError } from '../errors.js';
import type { InventoryHost } from '../inventory/model.js';

export type ClusterKeyType = 'ed25519' | 'rsa';

export interface SshHostConfig {
  /** Inventory name. */
  name: string;
  /** ansible_host (else the name): where to connect and the known_hosts name. */
  address: string;
  port: number;
  user: string;
  /** ansible_ssh_private_key_file, absolute. */
  privateKeyFile: string | undefined;
  /** Run commands through sudo: ansible_become (default: when the login user is not root). */
  become: boolean;
  becomeUser: string;
  keyType: ClusterKeyType;
}

const flag = z.union([z.boolean(), z.stringbool()]);
const port = z
  .union([z.number(), z.string().trim().regex(/^\d+$/, 'must be a port number').transform(Number)])
  .pipe(z.number().int().min(1).max(65535));
const userName = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'must be a user name');

const sshVarsSchema = z.object({
  ansible_user: userName.optional(),
  ansible_ssh_user: userName.optional(),
  ansible_port: port.optional(),
  ansible_ssh_port: port.optional(),
  ansible_ssh_private_key_file: z.string().trim().min(1).optional(),
  ansible_become: flag.optional(),
  ansible_become_user: userName.optional(),
  ssh_key_type: z.enum(['ed25519', 'rsa']).optional(),
});

/** `~/x` as the shell would expand it; relative paths are taken from the inventory directory. */
export function resolveKeyPath(file: string, inventoryDir: string): string {
  if (file === '~' || file.startsWith('~/')) return path.join(os.homedir(), file.slice(1));
  return path.resolve(inventoryDir, file);
}

/** Validates a host's SSH variables; a bad value is an inventory error naming host and variable. */
export function sshHostConfig(host: InventoryHost, inventoryDir: string): SshHostConfig {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(sshVarsSchema.shape)) {
    const value = host.vars[key];
    // Unset or empty variables fall back to defaults, as in Ansible.
    if (value !== undefined && value !== null && value !== '') picked[key] = value;
  }
  const parsed = sshVarsSchema.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = issue?.path.join('.') ?? 'ssh variables';
    throw new KprovError('inventory', `host ${host.name}: ${variable}: ${issue?.message ?? 'invalid value'}`, {
      host: host.name,
    });
  }
  const vars = parsed.data;
  const user = vars.ansible_user ?? vars.ansible_ssh_user ?? 'root';
  const becomeUser = vars.ansible_become_user ?? 'root';
  return {
    name: host.name,
    address: host.address,
    port: vars.ansible_port ?? vars.ansible_ssh_port ?? 22,
    user,
    privateKeyFile:
      vars.ansible_ssh_private_key_file === undefined
        ? undefined
        : resolveKeyPath(vars.ansible_ssh_private_key_file, inventoryDir),
    // Becoming the user one already is would only add a needless dependency on sudo.
    become: (vars.ansible_become ?? user !== 'root') && user !== becomeUser,
    becomeUser,
    keyType: vars.ssh_key_type ?? 'ed25519',
  };
}

/** The one cluster key type of an inventory: hosts must not disagree. */
export function clusterKeyType(configs: readonly SshHostConfig[]): ClusterKeyType {
  const types = new Set(configs.map((c) => c.keyType));
  if (types.size > 1) {
    throw new KprovError('inventory', 'ssh_key_type differs between hosts; the cluster has one SSH key', {
      hint: 'set ssh_key_type once, in group_vars/all',
    });
  }
  return types.values().next().value ?? 'ed25519';
}
