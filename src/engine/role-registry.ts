/**
 * Roles by name. Playbooks name roles; the engine looks them up here before touching any host,
 * so a typo in a playbook is a bad-input error, not a failure halfway through a run. The engine
 * ships no roles: whoever wires a run (the CLI) fills the registry (see src/roles/index.ts).
 */
import { KprovError } from '../errors.js';
import type { Role } from './contract.js';

export class RoleRegistry<R = unknown> {
  private readonly roles = new Map<string, Role<R>>();

  constructor(roles: readonly Role<R>[] = []) {
    for (const role of roles) this.register(role);
  }

  register(role: Role<R>): this {
    if (this.roles.has(role.name)) throw new KprovError('internal', `role "${role.name}" is registered twice`);
    const handlerNames = new Set<string>();
    for (const h of role.handlers ?? []) {
      if (handlerNames.has(h.name)) throw new KprovError('internal', `role "${role.name}" declares handler "${h.name}" twice`);
      handlerNames.add(h.name);
    }
    this.roles.set(role.name, role);
    return this;
  }

  get(name: string): Role<R> | undefined {
    return this.roles.get(name);
  }

  has(name: string): boolean {
    return this.roles.has(name);
  }

  names(): string[] {
    return [...this.roles.keys()].sort();
  }
}
