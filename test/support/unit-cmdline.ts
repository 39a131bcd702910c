/**
 * What a service runs against what its unit file says: the running process's argv, read from
 * /proc/<MainPID>/cmdline inside a lab host, and the ExecStart= line of the unit file on disk.
 * A service restarted after its file changed runs exactly the file's argv; one that missed its
 * restart still runs the old one.
 */
import type { CommandResult, RunOpts } from '../../dev/run-command.js';

/** The part of a lab that runs commands inside a host. */
export interface HostExec {
  exec(host: string, cmd: string[], opts?: RunOpts): Promise<CommandResult>;
}

export interface UnitCommandLine {
  /** argv of the unit's main process, from /proc. */
  running: string[];
  /** argv of ExecStart= in the unit file (continuation lines joined). */
  file: string[];
}

/** ExecStart= of a unit file as argv; the unit files kprov writes quote nothing. */
export function execStartArgv(unitText: string): string[] {
  const joined = unitText.replace(/\\\n/g, ' ');
  const line = /^ExecStart=(.*)$/m.exec(joined)?.[1];
  if (line === undefined) throw new Error(`no ExecStart= in:\n${unitText}`);
  return line.trim().split(/\s+/);
}

export async function unitCommandLine(lab: HostExec, host: string, unit: string): Promise<UnitCommandLine> {
  const script = [
    `pid=$(systemctl show -p MainPID --value -- ${unit}.service)`,
    '[ "$pid" -gt 0 ] || { echo "no main process" >&2; exit 1; }',
    "tr '\\0' '\\n' </proc/\"$pid\"/cmdline",
  ].join('\n');
  const r = await lab.exec(host, ['sh', '-c', script], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`${host} ${unit}: ${r.stderr}`);
  const running = r.stdout.split('\n').filter((l) => l !== '');
  const unitFile = await lab.exec(host, ['cat', `/etc/systemd/system/${unit}.service`], { timeoutMs: 30_000 });
  if (unitFile.code !== 0) throw new Error(`${host} ${unit}: ${unitFile.stderr}`);
  return { running, file: execStartArgv(unitFile.stdout) };
}

/**
 * The file's argv as the process shows it: an interpreter in front (a script's `#!` line) is
 * allowed, the rest must be the same words in the same order. Undefined when they match, else
 * what differs.
 */
export function commandLineMismatch(c: UnitCommandLine): string | undefined {
  const tail = c.running.slice(c.running.length - c.file.length);
  if (tail.length === c.file.length && tail.every((a, i) => a === c.file[i])) return undefined;
  return `running: ${c.running.join(' ')}\nunit file: ${c.file.join(' ')}`;
}
