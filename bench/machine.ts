/** One line describing the machine a benchmark ran on, for bench/RESULTS.md. */
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';

async function osName(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? 'unknown OS';
}

export async function machineDescription(): Promise<string> {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown CPU';
  return [
    `${await osName()}`,
    `kernel ${release()}`,
    `${cpu.length} × ${model}`,
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB memory`,
    `Node ${process.version}`,
    `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  ].join(', ');
}

export interface CpuSample {
  busy: number;
  total: number;
}

/** Busy and total jiffies of all CPUs together (the first line of /proc/stat). */
export async function machineCpu(): Promise<CpuSample> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** How many cores were busy on average between two samples (the hosts' processes included). */
export function busyCores(from: CpuSample, to: CpuSample): number {
  return ((to.busy - from.busy) / Math.max(1, to.total - from.total)) * cpus().length;
}
