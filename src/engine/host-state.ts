/**
 * What the current run has changed on one host. Kept in memory only: facts come from hosts,
 * and this exists so a service helper knows whether a unit file changed *in this run*, and a
 * restart handler whether the unit already started after the last change.
 */
import type { HostRunState } from './contract.js';

// Where systemd reads unit files and drop-ins from.
const UNIT_PATH = /^\/(etc|run|lib|usr\/lib)\/systemd\/system\//;

export function isUnitFilePath(p: string): boolean {
  return UNIT_PATH.test(p);
}

export class HostState implements HostRunState {
  private readonly paths: string[] = [];
  private reloadedUpTo = 0;
  /** unit → how many paths had changed in this run when it was last started or restarted. */
  private readonly started = new Map<string, number>();

  get changedPaths(): readonly string[] {
    return this.paths;
  }

  recordChanged(paths: Iterable<string>): void {
    for (const p of paths) this.paths.push(p);
  }

  unitFilesPendingReload(): string[] {
    return [...new Set(this.paths.slice(this.reloadedUpTo).filter(isUnitFilePath))];
  }

  markDaemonReloaded(): void {
    this.reloadedUpTo = this.paths.length;
  }

  markUnitStarted(unit: string): void {
    this.started.set(unit, this.paths.length);
  }

  startedInRun(unit: string): boolean {
    return this.started.has(unit);
  }

  startedSinceLastChange(unit: string): boolean {
    return this.started.get(unit) === this.paths.length;
  }
}
