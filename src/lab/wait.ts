/** Bounded waits for lab services: TCP answers from inside the lab namespace, systemd readiness. */
import { execa } from 'execa';
import { z } from 'zod';
import { containerExecArgv } from './container.js';
import { labScript } from './paths.js';
import { run } from './run.js';

const probeResultSchema = z.object({
  target: z.string(),
  ok: z.boolean(),
  /** Epoch milliseconds when the target answered (or was given up). */
  at: z.number(),
  /** Milliseconds from the target being added to it answering. */
  ms: z.number(),
  attempts: z.number(),
  error: z.string().optional(),
});

export type ProbeResult = z.infer<typeof probeResultSchema>;

export interface TcpWatchOptions {
  /** Per target, counted from when it is added. */
  timeoutMs: number;
  /** The first bytes the service must send, e.g. `SSH-`. */
  banner?: string;
  onResult?: (result: ProbeResult) => void;
}

export interface TcpWatch {
  /** Starts polling another `ADDRESS:PORT`. */
  add(target: string): void;
  /** No more targets: resolves with every target's result once each has one. */
  finish(): Promise<ProbeResult[]>;
  /** Stops the probe at once (on failure elsewhere). */
  abort(): void;
}

/**
 * Polls `ADDRESS:PORT` targets from inside `namespace` (lab addresses exist nowhere else), each
 * until it answers or its time runs out. One probe process serves every target.
 */
export function watchTcp(namespace: string, options: TcpWatchOptions): TcpWatch {
  const args = ['netns', 'exec', namespace, process.execPath, labScript('probe'), `--timeout-ms=${options.timeoutMs}`, '--stdin'];
  if (options.banner !== undefined) args.push(`--banner=${options.banner}`);
  const targets: string[] = [];
  const results: ProbeResult[] = [];
  let backstop: NodeJS.Timeout | undefined;
  const child = execa('ip', args, { reject: false, stdin: 'pipe', buffer: { stdout: false, stderr: true } });
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const parsed = probeResultSchema.safeParse(safeJson(pending.slice(0, newline)));
      pending = pending.slice(newline + 1);
      if (parsed.success) {
        results.push(parsed.data);
        options.onResult?.(parsed.data);
      }
    }
  });
  return {
    add(target) {
      targets.push(target);
      child.stdin?.write(`${target}\n`);
    },
    async finish() {
      child.stdin?.end();
      // The probe stops itself at each target's deadline; this is the backstop.
      backstop = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs + 15_000);
      const finished = await child;
      clearTimeout(backstop);
      for (const target of targets) {
        if (!results.some((r) => r.target === target)) {
          const error = lastLine(String(finished.stderr ?? '')) || 'probe did not report';
          results.push({ target, ok: false, at: Date.now(), ms: options.timeoutMs, attempts: 0, error });
        }
      }
      return results;
    },
    abort() {
      child.kill('SIGKILL');
    },
  };
}

export async function waitForTcp(namespace: string, targets: readonly string[], options: TcpWatchOptions): Promise<ProbeResult[]> {
  const watch = watchTcp(namespace, options);
  for (const t of targets) watch.add(t);
  return watch.finish();
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/**
 * `systemctl is-system-running --wait` inside a host: blocks until boot finished, then prints
 * running, degraded, … Bounded by `timeoutMs`.
 */
export async function waitForSystemd(leaderPid: number, timeoutMs: number): Promise<string> {
  const [command, ...args] = containerExecArgv(leaderPid, ['systemctl', 'is-system-running', '--wait']);
  const r = await run(command!, args, { timeoutMs, allowFailure: true });
  return r.stdout.trim() || `unknown (${r.stderr.trim() || `exit ${r.code}`})`;
}

/** Units that failed inside a host, for messages when it is not `running`. */
export async function failedUnits(leaderPid: number): Promise<string[]> {
  const [command, ...args] = containerExecArgv(leaderPid, ['systemctl', 'list-units', '--failed', '--plain', '--no-legend']);
  const r = await run(command!, args, { timeoutMs: 15_000, allowFailure: true });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((u) => u !== '');
}
