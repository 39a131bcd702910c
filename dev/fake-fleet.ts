/**
 * In-memory hosts for engine tests and the engine benchmark: files, directories, systemd units, sysctls and kernel
 * modules in Maps, a handful of commands interpreted the way coreutils/systemd answer them, and a
 * record of every call (so a test can prove a dry run wrote nothing). Commands it does not know
 * go to the caller's script, else exit 127.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InventoryHost } from '../src/inventory/model.js';
import { PENDING_LIST_SCRIPT, PENDING_WRITE_SCRIPT } from '../src/engine/pending.js';
import { STAT_SCRIPT } from '../src/engine/tasks/remote-stat.js';
import { KprovError } from '../src/errors.js';
import { HostCommandError } from '../src/ssh/errors.js';
import { noSpaceError } from '../src/ssh/no-space.js';
import { commandLine } from '../src/ssh/quote.js';
import type { ExecOptions, ExecResult, FileSpec, RemoteHost } from '../src/ssh/types.js';

export interface FakeFile {
  content: Buffer;
  mode: number;
  owner: string;
  group: string;
}

export interface FakeDir {
  mode: number;
  owner: string;
  group: string;
}

export interface FakeUnit {
  enabled: boolean;
  active: boolean;
  failed?: boolean;
  /** `systemctl start/restart` fails (exit 1) and leaves the unit failed. */
  startFails?: boolean;
  /** The unit file changed on disk after systemd loaded it (NeedDaemonReload=yes). */
  needReload?: boolean;
}

export type CallMethod = 'exec' | 'run' | 'sha256' | 'readFile' | 'writeFile' | 'uploadFile' | 'close';

export interface FakeCall {
  method: CallMethod;
  argv?: string[];
  path?: string;
  /** Whether the call changed (or tried to change) the machine. */
  mutating: boolean;
  /** ms since the fleet was created, when the call started and ended. */
  start: number;
  end?: number;
}

/** Answers a command the fake does not know; undefined lets the fake answer (or exit 127). */
export type ExecScript = (argv: readonly string[], machine: FakeMachine, options?: ExecOptions) => ExecResult | undefined | Promise<ExecResult | undefined>;

const UNIT_DIR = '/etc/systemd/system/';
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
const fail = (code: number, stderr: string): ExecResult => ({ code, stdout: '', stderr });

export class FakeMachine {
  readonly files = new Map<string, FakeFile>();
  readonly dirs = new Map<string, FakeDir>([['/', { mode: 0o755, owner: 'root', group: 'root' }]]);
  readonly units = new Map<string, FakeUnit>();
  readonly sysctls = new Map<string, string>();
  readonly modules = new Set<string>();
  readonly calls: FakeCall[] = [];
  daemonReloads = 0;
  /** Restarts in order, with the time they happened (ms since the fleet was created). */
  readonly restarts: { unit: string; at: number }[] = [];
  script: ExecScript | undefined;
  latencyMs = 0;
  bytesUploaded = 0;
  /** Room left on the (one) file system: a write that needs more fails as the SSH layer reports a full disk. */
  freeBytes = Number.POSITIVE_INFINITY;
  /** The host went away (network down, powered off): every call fails as a lost SSH connection does. */
  lost = false;
  /** The run lock in /run/kprov.lock (src/engine/host-lock.ts): its owner line and age. */
  hostLock: { owner: string; ageSeconds: number } | undefined;

  constructor(
    readonly name: string,
    private readonly fleet: { now(): number; enter(): void; leave(): void },
  ) {}

  /** Canonical text of the whole state, to compare before and after a run. */
  snapshot(): string {
    const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
    return JSON.stringify({
      files: sorted(this.files).map(([p, f]) => [p, f.content.toString('base64'), f.mode, f.owner, f.group]),
      dirs: sorted(this.dirs),
      units: sorted(this.units),
      sysctls: sorted(this.sysctls),
      modules: [...this.modules].sort(),
      daemonReloads: this.daemonReloads,
      restarts: this.restarts.length,
    });
  }

  mutatingCalls(): FakeCall[] {
    return this.calls.filter((c) => c.mutating);
  }

  putFile(p: string, content: string | Buffer, spec: Partial<FakeFile> = {}): void {
    this.mkdirs(path.posix.dirname(p));
    this.files.set(p, {
      content: typeof content === 'string' ? Buffer.from(content) : content,
      mode: spec.mode ?? 0o644,
      owner: spec.owner ?? 'root',
      group: spec.group ?? 'root',
    });
    // systemd notices a changed file of a unit it has loaded, and asks for a daemon-reload.
    const loaded = p.startsWith(UNIT_DIR) ? this.units.get(path.posix.basename(p)) : undefined;
    if (loaded) loaded.needReload = true;
  }

  mkdirs(dir: string, spec: Partial<FakeDir> = {}): void {
    const parts = dir.split('/').filter(Boolean);
    let cur = '';
    for (const part of parts) {
      cur += `/${part}`;
      if (!this.dirs.has(cur)) this.dirs.set(cur, { mode: spec.mode ?? 0o755, owner: spec.owner ?? 'root', group: spec.group ?? 'root' });
    }
  }

  async call<T>(method: CallMethod, detail: { argv?: string[]; path?: string }, mutating: boolean, body: () => T | Promise<T>): Promise<T> {
    const record: FakeCall = { method, ...detail, mutating, start: this.fleet.now() };
    this.calls.push(record);
    this.fleet.enter();
    try {
      if (this.latencyMs > 0) await sleep(this.latencyMs);
      if (this.lost) throw new KprovError('ssh', 'the connection was lost again (timed out); giving up on this host', { host: this.name });
      return await body();
    } finally {
      record.end = this.fleet.now();
      this.fleet.leave();
    }
  }

  /** The fake's own commands; undefined when it does not know the command. */
  builtin(argv: readonly string[]): { result: ExecResult; mutating: boolean } | undefined {
    const [cmd, ...args] = argv;
    const read = (result: ExecResult) => ({ result, mutating: false });
    const write = (result: ExecResult) => ({ result, mutating: true });
    if (cmd === 'true') return read(ok());
    if (cmd === 'sh' && args[0] === '-c' && args[1] === STAT_SCRIPT) return read(this.stat(args[3] ?? ''));
    if (cmd === 'test' && args.length === 2) {
      const [flag, p = ''] = args;
      const exists = flag === '-d' ? this.isDir(p) : this.files.has(p) || this.isDir(p);
      return read(exists ? ok() : fail(1, ''));
    }
    if (cmd === 'sh' && args[0] === '-c' && args[1] === PENDING_WRITE_SCRIPT) return write(this.appendPending(args.slice(3)));
    if (cmd === 'sh' && args[0] === '-c' && args[1] === PENDING_LIST_SCRIPT) return read(this.listPending(args[3] ?? ''));
    if (cmd === 'rm' && args[0] === '-f') {
      for (const p of args.slice(1).filter((a) => a !== '--')) this.files.delete(p);
      return write(ok());
    }
    if (cmd === 'mkdir' && args[0] === '-p') {
      this.mkdirs(args.at(-1)!);
      return write(ok());
    }
    if (cmd === 'chmod') return write(this.chmod(Number.parseInt(args[0]!, 8), args.at(-1)!));
    if (cmd === 'chown') return write(this.chown(args[0]!, args.at(-1)!));
    if (cmd === 'systemctl') return this.systemctl(args);
    if (cmd === 'journalctl') return read(ok(`-- journal of ${args.at(-1)} --\nstarted\n`));
    if (cmd === 'sysctl' && args[0] === '-n') {
      const keys = args.slice(1);
      const missing = keys.find((k) => !this.sysctls.has(k));
      if (missing) return read(fail(255, `sysctl: cannot stat /proc/sys/${missing.replace(/\./g, '/')}: No such file or directory`));
      return read(ok(`${keys.map((k) => this.sysctls.get(k)).join('\n')}\n`));
    }
    if (cmd === 'sysctl' && args[0] === '-w') {
      for (const kv of args.slice(1)) {
        const eq = kv.indexOf('=');
        this.sysctls.set(kv.slice(0, eq), kv.slice(eq + 1));
      }
      return write(ok());
    }
    if (cmd === 'modprobe') {
      this.modules.add(args.at(-1)!);
      return write(ok());
    }
    return undefined;
  }

  /** The engine's pending-handler records (src/engine/pending.ts): DIR BODY then NAME HEADER pairs. */
  private appendPending(args: readonly string[]): ExecResult {
    const [dir = '', body = '', ...pairs] = args;
    this.mkdirs(dir, { mode: 0o700 });
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const p = `${dir}/${pairs[i]}`;
      const old = this.files.get(p)?.content.toString('utf8') ?? '';
      const text = `${old === '' ? `${pairs[i + 1]}\n` : old}${body}\n`;
      this.files.set(p, { content: Buffer.from(text), mode: 0o600, owner: 'root', group: 'root' });
    }
    return ok();
  }

  private listPending(dir: string): ExecResult {
    const since = Math.floor(Date.now() / 1000);
    const records = [...this.files.entries()].filter(([p]) => path.posix.dirname(p) === dir).sort(([a], [b]) => a.localeCompare(b));
    return ok(records.map(([p, f]) => `\n@@ ${since} ${path.posix.basename(p)}\n${f.content.toString('utf8')}`).join(''));
  }

  private isDir(p: string): boolean {
    if (p.startsWith('/sys/module/')) return this.modules.has(p.slice('/sys/module/'.length).replace(/_/g, '-')) || this.modules.has(p.slice('/sys/module/'.length));
    return this.dirs.has(p);
  }

  private stat(p: string): ExecResult {
    const f = this.files.get(p);
    if (f) {
      const sha = createHash('sha256').update(f.content).digest('hex');
      return ok(`regular file|${f.mode.toString(8)}|${f.owner}|${f.group}\n${sha}\n`);
    }
    const d = this.dirs.get(p);
    if (d) return ok(`directory|${d.mode.toString(8)}|${d.owner}|${d.group}\n`);
    return fail(3, '');
  }

  private chmod(mode: number, p: string): ExecResult {
    const target = this.files.get(p) ?? this.dirs.get(p);
    if (!target) return fail(1, `chmod: cannot access '${p}': No such file or directory`);
    target.mode = mode;
    return ok();
  }

  private chown(spec: string, p: string): ExecResult {
    const target = this.files.get(p) ?? this.dirs.get(p);
    if (!target) return fail(1, `chown: cannot access '${p}': No such file or directory`);
    const [owner, group] = spec.split(':');
    if (owner) target.owner = owner;
    if (group) target.group = group;
    return ok();
  }

  private unit(name: string): FakeUnit | undefined {
    const known = this.units.get(name);
    if (known) return known;
    if (this.files.has(`${UNIT_DIR}${name}`)) {
      const u: FakeUnit = { enabled: false, active: false };
      this.units.set(name, u);
      return u;
    }
    return undefined;
  }

  private systemctl(args: readonly string[]): { result: ExecResult; mutating: boolean } {
    const [verb, ...rest] = args;
    const name = rest.at(-1) ?? '';
    const u = this.unit(name);
    const notFound = fail(5, `Failed to ${verb} ${name}: Unit ${name} not found.`);
    switch (verb) {
      case 'show': {
        const props = [
          `LoadState=${u ? 'loaded' : 'not-found'}`,
          `ActiveState=${u ? (u.failed ? 'failed' : u.active ? 'active' : 'inactive') : 'inactive'}`,
          `UnitFileState=${u ? (u.enabled ? 'enabled' : 'disabled') : ''}`,
          `NeedDaemonReload=${u?.needReload ? 'yes' : 'no'}`,
        ];
        return { result: ok(`${props.join('\n')}\n`), mutating: false };
      }
      case 'is-active':
        return { result: u?.active ? ok('active\n') : { code: 3, stdout: u?.failed ? 'failed\n' : 'inactive\n', stderr: '' }, mutating: false };
      case 'status':
        return { result: { code: u?.active ? 0 : 3, stdout: `● ${name}\n   Active: ${u?.active ? 'active (running)' : u?.failed ? 'failed' : 'inactive (dead)'}\n`, stderr: '' }, mutating: false };
      case 'daemon-reload':
        this.daemonReloads += 1;
        for (const unit of this.units.values()) unit.needReload = false;
        return { result: ok(), mutating: true };
      case 'enable':
      case 'disable':
        if (!u) return { result: notFound, mutating: true };
        u.enabled = verb === 'enable';
        return { result: ok(), mutating: true };
      case 'start':
      case 'restart':
      case 'stop': {
        if (!u) return { result: notFound, mutating: true };
        if (verb !== 'stop' && u.startFails) {
          u.active = false;
          u.failed = true;
          return { result: fail(1, `Job for ${name} failed because the control process exited with error code.\nSee "systemctl status ${name}" and "journalctl -xeu ${name}" for details.`), mutating: true };
        }
        u.active = verb !== 'stop';
        u.failed = false;
        if (verb === 'restart') this.restarts.push({ unit: name, at: this.fleet.now() });
        return { result: ok(), mutating: true };
      }
      default:
        return { result: fail(1, `fake systemctl: unsupported verb ${verb}`), mutating: true };
    }
  }
}

/** One connection to a FakeMachine, as the engine sees a host. */
export class FakeHost implements RemoteHost {
  readonly name: string;
  closed = false;

  constructor(readonly machine: FakeMachine) {
    this.name = machine.name;
  }

  get bytesUploaded(): number {
    return this.machine.bytesUploaded;
  }

  async exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    this.assertOpen();
    const known = this.machine.builtin(argv);
    const mutating = known?.mutating ?? true;
    return this.machine.call('exec', { argv: [...argv] }, mutating, async () => {
      if (known) return known.result;
      const scripted = await this.machine.script?.(argv, this.machine, options);
      return scripted ?? fail(127, `sh: 1: ${argv[0]}: not found`);
    });
  }

  async run(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    const result = await this.exec(argv, options);
    if (result.code !== 0) throw new HostCommandError({ host: this.name, command: commandLine(argv), ...result });
    return result;
  }

  async sha256(p: string): Promise<string | undefined> {
    this.assertOpen();
    return this.machine.call('sha256', { path: p }, false, () => {
      const f = this.machine.files.get(p);
      return f ? createHash('sha256').update(f.content).digest('hex') : undefined;
    });
  }

  async readFile(p: string): Promise<Buffer | undefined> {
    this.assertOpen();
    return this.machine.call('readFile', { path: p }, false, () => this.machine.files.get(p)?.content);
  }

  async writeFile(p: string, content: string | Buffer, spec: FileSpec): Promise<boolean> {
    this.assertOpen();
    return this.machine.call('writeFile', { path: p }, true, () => this.put(p, typeof content === 'string' ? Buffer.from(content) : content, spec));
  }

  async uploadFile(localPath: string, remotePath: string, spec: FileSpec & { sha256?: string }): Promise<boolean> {
    this.assertOpen();
    const content = await readFile(localPath);
    return this.machine.call('uploadFile', { path: remotePath }, true, () => {
      const written = this.put(remotePath, content, spec);
      if (written) this.machine.bytesUploaded += content.length;
      return written;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.machine.calls.push({ method: 'close', mutating: false, start: 0 });
  }

  private put(p: string, content: Buffer, spec: FileSpec): boolean {
    const old = this.machine.files.get(p);
    const owner = spec.owner ?? 'root';
    const group = spec.group ?? 'root';
    if (old && old.content.equals(content) && old.mode === spec.mode && old.owner === owner && old.group === group) return false;
    // The new file is written beside the old one before the rename, so it needs its whole size.
    if (!old?.content.equals(content) && content.length > this.machine.freeBytes) throw noSpaceError(this.name, p);
    this.machine.freeBytes += (old?.content.length ?? 0) - content.length;
    this.machine.putFile(p, content, { mode: spec.mode, owner, group });
    return true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`${this.name}: connection used after close`);
  }
}

/** A set of fake machines and the engine's connector over them. */
export class FakeFleet {
  readonly machines = new Map<string, FakeMachine>();
  /** connect() calls per host. */
  readonly connects = new Map<string, number>();
  /** Hosts whose connect() fails as an unreachable host's would. */
  readonly unreachable = new Set<string>();
  readonly opened: FakeHost[] = [];
  connectLatencyMs = 0;
  private readonly started = performance.now();
  private inFlight = 0;
  /** Most calls in flight at once, across all machines. */
  maxInFlight = 0;

  constructor(names: readonly string[]) {
    const clock = {
      now: () => performance.now() - this.started,
      enter: () => {
        this.inFlight += 1;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      },
      leave: () => {
        this.inFlight -= 1;
      },
    };
    for (const n of names) this.machines.set(n, new FakeMachine(n, clock));
  }

  machine(name: string): FakeMachine {
    const m = this.machines.get(name);
    if (!m) throw new Error(`no fake machine ${name}`);
    return m;
  }

  connect = async (host: InventoryHost): Promise<RemoteHost> => {
    this.connects.set(host.name, (this.connects.get(host.name) ?? 0) + 1);
    if (this.connectLatencyMs > 0) await sleep(this.connectLatencyMs);
    if (this.unreachable.has(host.name)) {
      throw new Error(`connect to ${host.address}:22 timed out after 10 s`);
    }
    const h = new FakeHost(this.machine(host.name));
    this.opened.push(h);
    return h;
  };

  /** Every call to every machine, with the machine's name. */
  allCalls(): (FakeCall & { host: string })[] {
    return [...this.machines.values()].flatMap((m) => m.calls.map((c) => ({ ...c, host: m.name })));
  }
}
