/**
 * Lets any kprov command given a lab inventory reach the lab's hosts: their addresses exist only
 * inside the lab's network namespace, so the command re-executes itself there.
 */
import { stat } from 'node:fs/promises';
import { KprovError } from '../errors.js';
import { readLabFile } from './lab-files.js';
import { namespaceExists, netnsPath } from './network.js';
import { runPassingSignals } from './signal-forward.js';

/** True when this process already lives in the named network namespace. */
export async function inNamespace(namespace: string): Promise<boolean> {
  const [self, target] = await Promise.all([stat('/proc/self/ns/net'), stat(netnsPath(namespace)).catch(() => undefined)]);
  return target !== undefined && self.dev === target.dev && self.ino === target.ino;
}

/**
 * When `inventoryDir` belongs to a lab and this process is outside the lab's namespace, runs the
 * same node + script + `argv` under `ip netns exec` with this process's stdio, passing SIGINT and
 * SIGTERM on to it (signal-forward.ts), and resolves with its exit code. Otherwise resolves
 * undefined and the caller carries on itself.
 * `script` defaults to this process's script; a CLI run in-process (tests) passes bin/kprov.js.
 */
export async function runInLabNamespaceIfNeeded(
  inventoryDir: string,
  argv: string[],
  script: string | undefined = process.argv[1],
): Promise<number | undefined> {
  const lab = await readLabFile(inventoryDir);
  if (!lab) return undefined;
  if (await inNamespace(lab.namespace)) return undefined;
  if (!(await namespaceExists(lab.namespace))) {
    throw new KprovError('lab', `the lab "${lab.name}" of this inventory is not running (no namespace ${lab.namespace})`, {
      location: { file: `${inventoryDir}/lab.json` },
      hint: `start it with: kprov lab up --name ${lab.name} --inventory ${inventoryDir}`,
    });
  }
  if (script === undefined) throw new KprovError('internal', 'cannot tell which script to re-execute');
  // Node's own flags belong to this script only (a test runner's must not reach the CLI).
  const nodeFlags = script === process.argv[1] ? process.execArgv : [];
  // `ip netns exec` execs node in its own place: the child's PID is node's, and signals passed on reach it.
  return runPassingSignals('ip', ['netns', 'exec', lab.namespace, process.execPath, ...nodeFlags, script, ...argv], {
    onSpawnError: (err) => new KprovError('lab', `cannot enter the lab namespace: ${err.message}`),
  });
}

/**
 * Safety net under the re-execution above: lab addresses outside the lab's namespace would be
 * routed by the machine's own default route, so connecting from there is refused outright.
 */
export async function assertInLabNamespaceIfLab(inventoryDir: string): Promise<void> {
  const lab = await readLabFile(inventoryDir);
  if (lab && !(await inNamespace(lab.namespace))) {
    throw new KprovError('lab', `refusing to reach the hosts of lab "${lab.name}" from outside its network namespace ${lab.namespace}`, {
      hint: `run the command through kprov (it enters the namespace itself) or under: ip netns exec ${lab.namespace}`,
    });
  }
}
