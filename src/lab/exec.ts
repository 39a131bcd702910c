/** `kprov lab exec`: runs a command inside a lab host, in every namespace of its init. */
import { KprovError } from '../errors.js';
import { containerExecArgv } from './container.js';
import { validateLabName } from './names.js';
import { EXEC_COMMANDS, requireCommands, requireRoot } from './preflight.js';
import { isRunning } from './processes.js';
import { readLabState } from './state.js';

/**
 * The argv (nsenter …) that runs `command` inside `host` (a host name like node1, or its address)
 * of lab `name`. Fails with a one-line error if the lab or host does not exist or is not running.
 */
export async function labExecArgv(name: string, host: string, command: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  validateLabName(name);
  requireRoot();
  requireCommands(EXEC_COMMANDS, env);
  if (command.length === 0) throw new KprovError('usage', 'lab exec needs a command after --');
  const state = await readLabState(name, env);
  if (!state) throw new KprovError('lab', `there is no lab named "${name}"`, { hint: 'start one with: kprov lab up' });
  const target = state.hosts.find((h) => h.name === host || h.address === host);
  if (!target) {
    throw new KprovError('usage', `lab "${name}" has no host ${host}`, { hint: `its hosts: ${state.hosts.map((h) => h.name).join(', ')}` });
  }
  if (!target.leader || !(await isRunning(target.leader))) {
    throw new KprovError('host', `${target.name} is not running`, { host: target.name, hint: `see ${target.consoleLog}` });
  }
  return containerExecArgv(target.leader.pid, command);
}
