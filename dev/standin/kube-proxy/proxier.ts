/**
 * The iptables proxier's loop, as v1.13 runs it: watches on Services and Endpoints request a
 * sync; syncs run no more often than minSyncPeriod and at least every syncPeriod (v1.13's
 * BoundedFrequencyRunner); each sync ensures the jump rules (`iptables -C` / `-I`), reads the
 * tables with `iptables-save`, and applies everything with ONE `iptables-restore --noflush`.
 */
import { spawn } from 'node:child_process';
import type { ApiClient } from '../common/client.js';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/klog.js';
import { chainLines, endpointsSchema, JUMP_RULES, restoreText, serviceSchema, servicePorts, type Endpoints, type RuleSettings, type Service } from './rules.js';

const PATH_ENV = `${process.env['PATH'] ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`;
const WATCH_SECONDS = 300;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs an iptables tool with arguments (no shell), bounded to 30 s. */
export function runTool(cmd: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, PATH: PATH_ENV }, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** A rule as iptables-save prints it (arguments with spaces in double quotes). */
export function savedRuleText(chain: string, args: readonly string[]): string {
  return [`-A ${chain}`, ...args.map((a) => (/\s/.test(a) ? `"${a}"` : a))].join(' ');
}

export interface ProxierOptions {
  client: ApiClient;
  log: Logger;
  rules: RuleSettings;
  syncPeriodMs: number;
  minSyncPeriodMs: number;
  /** Called after every successful sync (healthz, metrics). */
  onSynced(at: number): void;
}

export class IptablesProxier {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pending = false;
  private lastSync = 0;
  private readonly watches: Array<{ stop(): void }> = [];

  constructor(private readonly o: ProxierOptions) {}

  async start(): Promise<void> {
    for (const what of ['services', 'endpoints']) this.watch(what);
    await this.syncNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watches) w.stop();
    await this.running;
  }

  /** What each watched object contributes to the rules (a Service's spec, an Endpoints' subsets), by kind/namespace/name. */
  private readonly seen = new Map<string, string>();

  /**
   * Whether a watch event changes what the rules are made of: v1.13's change trackers compare the
   * old and new ports and endpoints, so the leader-election Endpoints (annotations only, renewed
   * every 2 s) and a re-listed unchanged object ask for no sync.
   */
  private changes(what: string, event: unknown): boolean {
    const e = event as { type?: unknown; object?: { metadata?: { namespace?: unknown; name?: unknown }; spec?: unknown; subsets?: unknown } };
    const meta = e.object?.metadata;
    if (typeof meta?.name !== 'string') return true;
    const key = `${what}/${String(meta.namespace ?? '')}/${meta.name}`;
    const before = this.seen.get(key);
    if (e.type === 'DELETED') {
      this.seen.delete(key);
      return before !== undefined;
    }
    const now = JSON.stringify(what === 'endpoints' ? (e.object?.subsets ?? []) : (e.object?.spec ?? {}));
    this.seen.set(key, now);
    return before !== now;
  }

  /** An event that changes the rules asks for a sync, no sooner than minSyncPeriod after the last. */
  private watch(what: string): void {
    if (this.stopped) return;
    const w = this.o.client.watch(`/api/v1/${what}?watch=1&timeoutSeconds=${WATCH_SECONDS}`, (event) => {
      if (this.changes(what, event)) this.request();
    });
    this.watches.push(w);
    void w.done
      .then(
        () => 0,
        (err: unknown) => {
          this.o.log.warning(`watch of ${what} ended: ${messageOf(err)}`);
          return 2_000;
        },
      )
      .then((delay) => {
        const i = this.watches.indexOf(w);
        if (i >= 0) this.watches.splice(i, 1);
        if (!this.stopped) setTimeout(() => this.watch(what), delay);
      });
  }

  private request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    const wait = Math.max(0, this.lastSync + this.o.minSyncPeriodMs - Date.now());
    if (this.timer && this.due <= Date.now() + wait) return;
    this.schedule(wait);
  }

  private due = 0;

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.due = Date.now() + ms;
    this.timer = setTimeout(() => void this.syncNow(), ms);
  }

  private async syncNow(): Promise<void> {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.sync().finally(() => {
      this.running = undefined;
      this.lastSync = Date.now();
      if (this.stopped) return;
      if (this.pending) {
        this.pending = false;
        this.schedule(this.o.minSyncPeriodMs);
      } else this.schedule(this.o.syncPeriodMs);
    });
    await this.running;
  }

  private async list<T>(what: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): Promise<T[]> {
    const body = (await this.o.client.call('GET', `/api/v1/${what}`)) as { items?: unknown };
    const out: T[] = [];
    for (const item of Array.isArray(body?.items) ? body.items : []) {
      const r = schema.safeParse(item);
      if (r.success) out.push(r.data);
    }
    return out;
  }

  private async sync(): Promise<void> {
    const start = Date.now();
    try {
      const services = await this.list<Service>('services', serviceSchema);
      const endpoints = await this.list<Endpoints>('endpoints', endpointsSchema);
      const [filter, nat] = await Promise.all([runTool('iptables-save', ['-t', 'filter']), runTool('iptables-save', ['-t', 'nat'])]);
      if (filter.code !== 0 || nat.code !== 0) this.o.log.error(`Failed to execute iptables-save, syncing all rules: ${(filter.stderr || nat.stderr).trim()}`);
      await this.ensureJumps({ filter: filter.code === 0 ? filter.stdout : '', nat: nat.code === 0 ? nat.stdout : '' });
      const text = restoreText({
        ports: servicePorts(services, endpoints),
        settings: this.o.rules,
        existingFilter: chainLines(filter.code === 0 ? filter.stdout : ''),
        existingNat: chainLines(nat.code === 0 ? nat.stdout : ''),
      });
      const r = await runTool('iptables-restore', ['--noflush', '--counters'], text);
      if (r.code !== 0) throw new Error(`Failed to execute iptables-restore: exit status ${r.code} (${r.stderr.trim()})`);
      this.o.onSynced(Date.now());
      this.o.log.info(`syncProxyRules took ${Date.now() - start}ms (${services.length} services)`);
    } catch (err) {
      this.o.log.error(`Failed to sync iptables rules: ${messageOf(err)}`);
    }
  }

  /**
   * v1.13 EnsureChain + EnsureRule(Prepend) for the jumps from the built-in chains. What
   * iptables-save shows already is not asked again (an idle node runs two saves and one restore
   * per sync); anything else is checked with -C and inserted with -I.
   */
  private async ensureJumps(saved: { filter: string; nat: string }): Promise<void> {
    for (const [table, chain] of [['filter', 'KUBE-SERVICES'], ['filter', 'KUBE-EXTERNAL-SERVICES'], ['filter', 'KUBE-FORWARD'], ['nat', 'KUBE-SERVICES'], ['nat', 'KUBE-POSTROUTING']] as const) {
      if (chainLines(saved[table]).has(chain)) continue;
      const r = await runTool('iptables', ['-w', '5', '-t', table, '-N', chain]);
      if (r.code !== 0 && !/already exists/i.test(r.stderr)) throw new Error(`Failed to ensure that ${table} chain ${chain} exists: ${r.stderr.trim()}`);
    }
    for (const j of JUMP_RULES) {
      if (saved[j.table].split('\n').includes(savedRuleText(j.chain, j.args))) continue;
      const check = await runTool('iptables', ['-w', '5', '-t', j.table, '-C', j.chain, ...j.args]);
      if (check.code === 0) continue;
      const add = await runTool('iptables', ['-w', '5', '-t', j.table, '-I', j.chain, ...j.args]);
      if (add.code !== 0) throw new Error(`Failed to ensure that ${j.table} chain ${j.chain} jumps to ${j.args[j.args.length - 1]}: ${add.stderr.trim()}`);
    }
  }
}
