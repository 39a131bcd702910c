/**
 * A private network namespace per scenario (`kprov-si-<random>`, loopback only): fixed ports such
 * as 6443 or 10251 never collide between tests, and nothing started inside can reach beyond it.
 * Processes run with `ip netns exec`, are tracked by PID and stopped by PID on teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';

const OUTPUT_LIMIT = 1 << 20;

export class Proc {
  private out = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitCode: number | null | undefined = undefined;

  constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    const take = (chunk: Buffer) => {
      if (this.out.length < OUTPUT_LIMIT) this.out += chunk.toString('utf8');
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        resolve({ code, signal });
      });
      child.on('error', (err) => {
        this.out += `spawn error: ${err.message}\n`;
        this.exitCode = -1;
        resolve({ code: -1, signal: null });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  output(): string {
    return this.out;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.running && this.child.pid !== undefined) process.kill(this.child.pid, signal);
  }

  /** Waits for exit, at most `ms`; undefined when still running. */
  async waitExit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    return result;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.kill('SIGTERM');
    if ((await this.waitExit(graceMs)) === undefined) {
      this.kill('SIGKILL');
      await this.waitExit(2000);
    }
  }
}

export class NetNs {
  private readonly procs: Proc[] = [];

  private constructor(readonly name: string) {}

  static async create(): Promise<NetNs> {
    if (process.getuid?.() !== 0) throw new Error('stand-in scenario tests create network namespaces and need root');
    const name = `kprov-si-${randomBytes(4).toString('hex')}`;
    await execa('ip', ['netns', 'add', name]);
    const ns = new NetNs(name);
    try {
      await execa('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    } catch (err) {
      await ns.destroy();
      throw err;
    }
    return ns;
  }

  /**
   * Starts `cmd` inside the namespace (ip netns exec execs it, so the PID is the command's).
   * `keepSys`: enter with `nsenter --net` instead, which keeps the machine's /sys (ip netns exec
   * mounts a fresh sysfs without the cgroup hierarchies that runc needs).
   */
  spawn(label: string, cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; keepSys?: boolean } = {}): Proc {
    const enter = opts.keepSys ? ['nsenter', [`--net=/run/netns/${this.name}`, '--', cmd, ...args]] as const : ['ip', ['netns', 'exec', this.name, cmd, ...args]] as const;
    const child = spawn(enter[0], [...enter[1]], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const proc = new Proc(label, child);
    this.procs.push(proc);
    return proc;
  }

  /** Runs `cmd` to completion inside the namespace, bounded by `timeoutMs`. */
  async run(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
    const r = await execa('ip', ['netns', 'exec', this.name, cmd, ...args], {
      reject: false,
      timeout: opts.timeoutMs ?? 20_000,
      env: { ...process.env, ...opts.env },
    });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  /** Stops every process started here (by PID), then deletes the namespace. */
  async destroy(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    await execa('ip', ['netns', 'del', this.name], { reject: false });
  }
}

/** Polls `check` every `intervalMs` until it returns a value, for at most `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
