/**
 * Roles by name. Playbooks name roles; the engine looks them up here before touching any host,
 * so a typo in a playbook is a bad-input error, not a failure halfway through a run.
 */
import { KprovError } from '../errors.js';
import { cniRole } from '../roles/cni/index.js';
import { controlPlaneRole } from '../roles/control-plane/index.js';
import { etcdRole } from '../roles/etcd/index.js';
import { factsRole } from '../roles/facts/index.js';
import { nodeRole } from '../roles/node/index.js';
import { preinstallRole } from '../roles/preinstall/index.js';
import { runtimeRole } from '../roles/runtime/index.js';
import { sshKeysRole } from '../roles/ssh-keys/index.js';
import type { Role } from '../roles/types.js';
import { verifyRole } from '../roles/verify/index.js';

export class RoleRegistry {
  private readonly roles = new Map<string, Role>();

  constructor(roles: readonly Role[] = []) {
    for (const role of roles) this.register(role);
  }

  register(role: Role): this {
    if (this.roles.has(role.name)) throw new KprovError('internal', `role "${role.name}" is registered twice`);
    const handlerNames = new Set<string>();
    for (const h of role.handlers ?? []) {
      if (handlerNames.has(h.name)) throw new KprovError('internal', `role "${role.name}" declares handler "${h.name}" twice`);
      handlerNames.add(h.name);
    }
    this.roles.set(role.name, role);
    return this;
  }

  get(name: string): Role | undefined {
    return this.roles.get(name);
  }

  has(name: string): boolean {
    return this.roles.has(name);
  }

  names(): string[] {
    return [...this.roles.keys()].sort();
  }
}

/**
 * The roles kprov ships, by the name playbooks use. Each role module is listed here as it is
 * written (preinstall, runtime, etcd, control-plane, node, …); a playbook naming a role that is
 * not here fails before any host is touched, with "unknown role".
 */
export const builtinRoles: readonly Role[] = [sshKeysRole, factsRole, verifyRole, preinstallRole, runtimeRole, cniRole, etcdRole, controlPlaneRole, nodeRole];

export function defaultRoleRegistry(): RoleRegistry {
  return new RoleRegistry(builtinRoles);
}
