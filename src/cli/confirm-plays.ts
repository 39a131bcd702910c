/**
 * Plays that undo a cluster (reset.yml) say `confirm: <variable>`. Before such a run touches a
 * host, kprov asks, naming the hosts, unless --yes was given or the variable is yes (Kubespray's
 * `-e reset_confirmation=yes`). Without a terminal to ask and without either, it refuses: exit 2,
 * nothing changed anywhere.
 */
import { KprovError } from '../errors.js';
import { parseAnsibleBoolean } from '../inventory/literal.js';
import type { RunPlan } from '../engine/run-plan.js';

export interface ConfirmationSource {
  /** --yes */
  yes: boolean;
  /** A host's value of a variable (extra vars included). */
  hostVar(host: string, name: string): unknown;
  /** Asks on the terminal; undefined when there is none. */
  ask?: (question: string) => Promise<boolean>;
}

export async function confirmPlays<R>(plan: RunPlan<R>, source: ConfirmationSource): Promise<void> {
  for (const p of plan.plays) {
    const variable = p.play.confirm;
    if (!variable || p.hosts.length === 0 || source.yes) continue;
    const first = p.hosts[0]!.name;
    if (parseAnsibleBoolean(source.hostVar(first, variable)) === true) continue;
    const hosts = p.hosts.map((h) => h.name).join(', ');
    const question = `"${p.play.name}" on ${p.hosts.length} host(s): ${hosts}. This cannot be undone.`;
    if (!source.ask) {
      throw new KprovError('usage', `${question} Not confirmed: nothing was changed`, {
        hint: `there is no terminal to ask: pass --yes, or -e ${variable}=yes as with Kubespray`,
      });
    }
    if (!(await source.ask(`${question} Go on?`))) {
      throw new KprovError('usage', `"${p.play.name}" not confirmed: nothing was changed`);
    }
  }
}
