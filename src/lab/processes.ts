/**
 * Processes the lab started, identified by PID *and* start time (so a reused PID is never
 * signalled), or by the network namespace they live in. Never by name.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcessRef {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks since boot when the process started. */
  startTime: string;
}

interface ProcStat {
  state: string;
  ppid: number;
  startTime: string;
}

async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const ppid = rest[1];
  const startTime = rest[19];
  if (state === undefined || ppid === undefined || startTime === undefined) return undefined;
  return { state, ppid: Number(ppid), startTime };
}

export async function processRef(pid: number): Promise<ProcessRef | undefined> {
  const s = await readProcStat(pid);
  return s ? { pid, startTime: s.startTime } : undefined;
}

/** True while the very process `ref` names exists and has not exited (a zombie has exited). */
export async function isRunning(ref: ProcessRef): Promise<boolean> {
  const s = await readProcStat(ref.pid);
  return s !== undefined && s.startTime === ref.startTime && s.state !== 'Z' && s.state !== 'X';
}

async function waitUntilGone(refs: readonly ProcessRef[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = await Promise.all(refs.map(isRunning));
    if (!alive.some(Boolean)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

function signal(ref: ProcessRef, sig: NodeJS.Signals): void {
  try {
    process.kill(ref.pid, sig);
  } catch {
    // Already gone.
  }
}

export type StopOutcome = 'not-running' | 'exited' | 'killed' | 'survived';

/**
 * SIGTERM, repeated every `repeatMs` (a container's init ignores the shutdown signal nspawn
 * forwards until it has set up its handlers early in boot), for up to `graceMs`; then SIGKILL.
 */
export async function stopProcess(ref: ProcessRef, graceMs: number, repeatMs = 1_000): Promise<StopOutcome> {
  if (!(await isRunning(ref))) return 'not-running';
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    signal(ref, 'SIGTERM');
    if (await waitUntilGone([ref], Math.min(repeatMs, deadline - Date.now()))) return 'exited';
  }
  return killProcesses([ref]);
}

/** SIGKILL, then wait (bounded) for them to disappear. */
export async function killProcesses(refs: readonly ProcessRef[]): Promise<StopOutcome> {
  const alive: ProcessRef[] = [];
  for (const ref of refs) if (await isRunning(ref)) alive.push(ref);
  if (alive.length === 0) return 'not-running';
  for (const ref of alive) signal(ref, 'SIGKILL');
  return (await waitUntilGone(alive, 10_000)) ? 'killed' : 'survived';
}

/** Every process whose network namespace is the one at `nsPath` (e.g. /run/netns/NAME). */
export async function processesInNetns(nsPath: string): Promise<ProcessRef[]> {
  const target = await stat(nsPath).catch(() => undefined);
  if (!target) return [];
  const out: ProcessRef[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const ns = await stat(`/proc/${pid}/ns/net`).catch(() => undefined);
    if (!ns || ns.ino !== target.ino || ns.dev !== target.dev) continue;
    const ref = await processRef(pid);
    if (ref && (await isRunning(ref))) out.push(ref);
  }
  return out;
}

/** Direct children of a process (from /proc/PID/task/TID/children). */
export async function childrenOf(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const out: number[] = [];
  for (const tid of tasks) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    for (const child of text.trim().split(/\s+/)) if (child !== '') out.push(Number(child));
  }
  return out;
}

/** The PID a process has inside its innermost PID namespace (1 for a container's init). */
export async function innermostPid(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const line = status?.split('\n').find((l) => l.startsWith('NSpid:'));
  const last = line?.trim().split(/\s+/).pop();
  return last === undefined ? undefined : Number(last);
}
