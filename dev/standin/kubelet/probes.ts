/**
 * Readiness and liveness probes as v1.13's prober workers run them: one worker per running
 * container and probe kind (timers exist only for containers that have probes), the first probe
 * after a random delay within one period, then every `periodSeconds` (10); nothing is probed
 * before `initialDelaySeconds`; `timeoutSeconds` (1) bounds each attempt; a result flips after
 * `successThreshold` (1) successes or `failureThreshold` (3) failures in a row. Readiness starts
 * as failure and drives the container's `ready` (and the pod's Ready condition); liveness starts
 * as success, and its failure kills the container, which the pod worker then restarts as
 * restartPolicy says (restartCount + 1). Handlers: httpGet (2xx/3xx is success; host defaults to
 * the pod IP, a named port is looked up in the container's ports), tcpSocket (a connection), exec
 * (CRI ExecSync, exit code 0).
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ContainerSpec, Pod, ProbeSpec } from './pod-spec.js';

export type ProbeKind = 'readiness' | 'liveness';
export type ProbeResult = { ok: true } | { ok: false; message: string };

export interface ProbeTarget {
  pod: Pod;
  container: ContainerSpec;
  containerId: string;
  podIP: string;
  /** When the container started (ms since the epoch). */
  startedAtMs: number;
}

export interface ProbeTimings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** v1.13 API defaults of a probe (SetDefaults_Probe). */
export function probeTimings(p: ProbeSpec): ProbeTimings {
  return {
    initialDelayMs: (p.initialDelaySeconds ?? 0) * 1000,
    periodMs: (p.periodSeconds || 10) * 1000,
    timeoutMs: (p.timeoutSeconds || 1) * 1000,
    successThreshold: p.successThreshold || 1,
    failureThreshold: p.failureThreshold || 3,
  };
}

/** Consecutive results → the probe's current verdict (v1.13 worker.doProbe's counting). */
export class ProbeState {
  private run = 0;
  private last: boolean | undefined;
  constructor(
    public result: boolean,
    private readonly t: Pick<ProbeTimings, 'successThreshold' | 'failureThreshold'>,
  ) {}

  /** Records one attempt; true when the verdict changed. */
  record(ok: boolean): boolean {
    this.run = this.last === ok ? this.run + 1 : 1;
    this.last = ok;
    const threshold = ok ? this.t.successThreshold : this.t.failureThreshold;
    if (this.run < threshold || this.result === ok) return false;
    this.result = ok;
    return true;
  }
}

export function resolvePort(c: ContainerSpec, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

export type Exec = (containerId: string, cmd: string[], timeoutSeconds: number) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

/** One probe attempt. */
export async function runProbe(p: ProbeSpec, target: ProbeTarget, exec: Exec): Promise<ProbeResult> {
  const timeoutMs = probeTimings(p).timeoutMs;
  if (p.exec) {
    try {
      const r = await exec(target.containerId, p.exec.command ?? [], Math.ceil(timeoutMs / 1000));
      return r.exitCode === 0 ? { ok: true } : { ok: false, message: `${r.stdout}${r.stderr}`.trim() || `command exited ${r.exitCode}` };
    } catch (err) {
      return { ok: false, message: err instanceof Error ? err.message : String(err) };
    }
  }
  if (p.httpGet) {
    const port = resolvePort(target.container, p.httpGet.port);
    if (port === undefined) return { ok: false, message: `couldn't find port: ${String(p.httpGet.port)} in ${target.container.name}` };
    const host = p.httpGet.host || target.podIP;
    const scheme = p.httpGet.scheme ?? 'HTTP';
    const pathPart = p.httpGet.path || '/';
    const url = `${scheme.toLowerCase()}://${host.includes(':') ? `[${host}]` : host}:${port}${pathPart.startsWith('/') ? '' : '/'}${pathPart}`;
    const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.13' };
    for (const h of p.httpGet.httpHeaders ?? []) headers[h.name] = h.value;
    return new Promise((resolve) => {
      const lib = scheme === 'HTTPS' ? https : http;
      const req = lib.get(url, { headers, timeout: timeoutMs, ...(scheme === 'HTTPS' ? { rejectUnauthorized: false } : {}), agent: false }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400 ? { ok: true } : { ok: false, message: `HTTP probe failed with statuscode: ${code}` });
      });
      req.on('timeout', () => req.destroy(new Error(`Get ${url}: net/http: request canceled (Client.Timeout exceeded while awaiting headers)`)));
      req.on('error', (err) => resolve({ ok: false, message: err.message }));
    });
  }
  if (p.tcpSocket) {
    const port = resolvePort(target.container, p.tcpSocket.port);
    if (port === undefined) return { ok: false, message: `couldn't find port: ${String(p.tcpSocket.port)} in ${target.container.name}` };
    const host = p.tcpSocket.host || target.podIP;
    return new Promise((resolve) => {
      const sock = net.connect({ host, port, timeout: timeoutMs });
      sock.once('connect', () => {
        sock.destroy();
        resolve({ ok: true });
      });
      sock.once('timeout', () => {
        sock.destroy();
        resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` });
      });
      sock.once('error', (err) => resolve({ ok: false, message: `dial tcp ${host}:${port}: ${err.message}` }));
    });
  }
  return { ok: false, message: 'probe has no handler' };
}

interface Worker {
  timer: NodeJS.Timeout | undefined;
  state: ProbeState;
  stopped: boolean;
}

export interface ProbeCallbacks {
  exec: Exec;
  /** A readiness verdict changed (the status is written again). */
  onReadinessChange(target: ProbeTarget, ready: boolean): void;
  /** Liveness failed `failureThreshold` times: the container is to be killed. */
  onLivenessFailure(target: ProbeTarget, message: string): void;
  log(message: string): void;
}

export class ProbeManager {
  private readonly workers = new Map<string, Worker>();

  constructor(
    private readonly cb: ProbeCallbacks,
    private readonly random: () => number = Math.random,
  ) {}

  /** The readiness of a running container: true without a readiness probe. */
  ready(containerId: string, container: ContainerSpec): boolean {
    if (!container.readinessProbe) return true;
    return this.workers.get(`${containerId}/readiness`)?.state.result ?? false;
  }

  /** Starts workers for new running containers with probes, stops those of containers gone. */
  update(targets: readonly ProbeTarget[]): void {
    const wanted = new Set<string>();
    for (const t of targets) {
      for (const kind of ['readiness', 'liveness'] as const) {
        const spec = kind === 'readiness' ? t.container.readinessProbe : t.container.livenessProbe;
        if (!spec) continue;
        const key = `${t.containerId}/${kind}`;
        wanted.add(key);
        if (!this.workers.has(key)) this.start(key, kind, spec, t);
      }
    }
    for (const [key, w] of this.workers) {
      if (wanted.has(key)) continue;
      w.stopped = true;
      if (w.timer) clearTimeout(w.timer);
      this.workers.delete(key);
    }
  }

  get active(): number {
    return this.workers.size;
  }

  stop(): void {
    this.update([]);
  }

  private start(key: string, kind: ProbeKind, spec: ProbeSpec, t: ProbeTarget): void {
    const timings = probeTimings(spec);
    const w: Worker = { timer: undefined, state: new ProbeState(kind === 'liveness', timings), stopped: false };
    this.workers.set(key, w);
    const tick = async () => {
      if (w.stopped) return;
      if (Date.now() - t.startedAtMs >= timings.initialDelayMs) {
        const r = await runProbe(spec, t, this.cb.exec);
        if (w.stopped) return;
        if (!r.ok) this.cb.log(`${kind === 'readiness' ? 'Readiness' : 'Liveness'} probe for "${t.pod.name}_${t.pod.namespace}(${t.pod.uid}):${t.container.name}" failed (failure): ${r.message}`);
        if (w.state.record(r.ok)) {
          if (kind === 'readiness') this.cb.onReadinessChange(t, w.state.result);
          else if (!w.state.result) {
            // The container is killed; its worker stops until a new container (a new ID) runs.
            this.cb.onLivenessFailure(t, r.ok ? '' : r.message);
            return;
          }
        }
      }
      if (!w.stopped) w.timer = setTimeout(() => void tick(), timings.periodMs);
    };
    w.timer = setTimeout(() => void tick(), Math.floor(this.random() * timings.periodMs));
  }
}
