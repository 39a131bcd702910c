/**
 * Static-pod mode's tasks and its restart (the control plane's components and etcd): the kubelet starts a pod when its manifest appears in
 * the manifests directory and replaces it when the manifest changes, so writing a changed manifest
 * IS the restart. To keep restarts one control-plane host at a time (as in host mode), a manifest
 * for a component that runs (a pod or, when switching from host mode, its systemd unit) is
 * written to a staging directory, and the component's rolling handler moves it in: stop and
 * remove the unit if there is one, rename the manifest into place, then wait for a process of the
 * component started after that and its health. Where nothing runs yet, the manifest goes straight
 * in (every host of a new cluster at once) and the handler has nothing left to do.
 *
 * An interruption converges: a staged manifest not yet moved in is staged again by the next run
 * (the live one still differs); a host left with neither unit nor manifest gets the manifest
 * directly.
 */
import path from 'node:path';
import type { Change, Handler } from '../engine/contract.js';
import { HostStepError } from '../engine/errors.js';
import { statOf } from '../engine/read-cache.js';
import { checkFile, probePasses, type HealthProbe } from '../engine/tasks/index.js';
import { unitDiagnostics } from '../engine/tasks/service.js';
import { waitUntil, WaitTimeoutError } from '../engine/wait.js';
import { shScript } from '../ssh/quote.js';
import type { RemoteHost } from '../ssh/types.js';
import type { ClusterRun, ClusterTask, ClusterTaskContext } from './run.js';
import type { HostVars } from '../inventory/schema.js';

const KUBELET_UNIT = 'kubelet.service';

export const manifestDir = (v: HostVars) => path.posix.join(v.kube_config_dir, 'manifests');
export const manifestPath = (v: HostVars, c: string) => path.posix.join(manifestDir(v), `${c}.yaml`);
/** Where a changed manifest waits for its turn (same file system as the manifests: a rename installs it). */
export const stagedManifestPath = (v: HostVars, c: string) => path.posix.join(v.kube_config_dir, 'tmp', 'kprov-manifests', `${c}.yaml`);
const MANIFEST_MODE = 0o600;

/** What the engine's "started since the last change" bookkeeping calls a static pod. */
const podMark = (c: string) => `static-pod:${c}`;

/**
 * `pids_of C`: the PIDs whose command line runs component C with flags — the pod's `C --…`, or
 * the stand-in's `node /usr/local/bin/C --…`. Shared by the scripts below.
 */
const PIDS_OF = String.raw`pids_of() {
  for d in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue
    case " $cmd" in *"/$1 --"*|*" $1 --"*) basename "$d" ;; esac
  done
}
`;

/** $1 component: exits 0 when a process of it runs, printing each one's start in seconds since boot. */
const PROCESSES = String.raw`${PIDS_OF}hz=$(getconf CLK_TCK)
pids=$(pids_of "$1")
[ -n "$pids" ] || exit 1
for p in $pids; do awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.2f\n", $20 / hz }' "/proc/$p/stat" 2>/dev/null; done
exit 0`;

/**
 * $1 component, $2 staged manifest, $3 live manifest, $4 unit file, $5 unit. Prints the time it
 * moved the manifest in (seconds since boot): the new pod's process starts after it.
 */
const INSTALL = String.raw`${PIDS_OF}set -e
c=$1 staged=$2 live=$3 unitfile=$4 unit=$5
running() { [ -n "$(pids_of "$c")" ]; }
if [ -e "$unitfile" ] || systemctl is-active --quiet "$unit"; then
  systemctl disable --now "$unit" >/dev/null 2>&1 || true
  rm -f -- "$unitfile"
  systemctl daemon-reload
fi
# The port is free before the pod starts: wait (bounded) for the old process to go.
if [ -f "$staged" ] && [ ! -f "$live" ]; then i=0; while running && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done; fi
t0=$(cut -d' ' -f1 /proc/uptime)
mkdir -p "$(dirname "$live")"
if [ -f "$staged" ] && [ -f "$live" ] && cmp -s -- "$staged" "$live"; then
  # Only its mode or owner differed: the kubelet keeps the pod.
  mv -f -- "$staged" "$live"; echo same; exit 0
elif [ -f "$staged" ]; then
  mv -f -- "$staged" "$live"
elif [ -f "$live" ]; then
  # The same manifest, restarted (a certificate it reads changed): out until the pod stops, back in.
  mv -f -- "$live" "$staged"
  i=0; while running && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
  t0=$(cut -d' ' -f1 /proc/uptime)
  mv -f -- "$staged" "$live"
else
  echo "neither $staged nor $live exists" >&2; exit 3
fi
echo "$t0"`;

export interface ManifestFiles {
  /** The static pod's name, and its program's (`etcd`, `kube-apiserver` …). */
  component: string;
  /** The manifest; a function when it can only be rendered as the task runs (etcd's membership). */
  content: string | (() => string);
  live: string;
  staged: string;
  /** The component's systemd unit file in host mode. */
  unitFile: string;
}

/** A component's manifest paths under kube_config_dir, and the unit it replaces. */
export function manifestFiles(v: HostVars, component: string, content: ManifestFiles['content']): ManifestFiles {
  return { component, content, live: manifestPath(v, component), staged: stagedManifestPath(v, component), unitFile: `/etc/systemd/system/${component}.service` };
}

const contentOf = (f: ManifestFiles) => Buffer.from(typeof f.content === 'string' ? f.content : f.content());

/**
 * The component's manifest. Nothing runs: written in place now (the kubelet starts it), and the
 * handler is told there is nothing to restart. Something runs: staged, and the rolling handler
 * (notified) moves it in.
 */
export function manifestTask(files: ManifestFiles, notify: readonly string[]): ClusterTask {
  let desired = Buffer.alloc(0);
  let running = false;
  return {
    name: `${files.component} static pod manifest`,
    notify,
    reads: () => ({ paths: [files.live, files.unitFile] }),
    async check(host, ctx): Promise<Change[]> {
      desired = contentOf(files);
      const live = await statOf(host, files.live, ctx);
      const unit = await statOf(host, files.unitFile, ctx);
      running = live !== undefined || unit !== undefined;
      // No change names its path: a manifest written in place marks the pod started after it
      // (the handler then skips), and the engine's record of changed paths would come after that.
      const changes: Change[] = (await checkFile(host, { path: files.live, content: desired, mode: MANIFEST_MODE, owner: 'root', group: 'root' }, desired, ctx)).map((c) => ({
        kind: c.kind,
        summary: running ? `${c.summary} (staged, installed one host at a time)` : c.summary,
        ...(c.diff ? { diff: c.diff } : {}),
      }));
      if (unit) changes.push({ kind: 'custom', summary: `switch ${files.component} from its systemd unit to a static pod` });
      return changes;
    },
    async apply(host, _changes, ctx) {
      if (!running) {
        await host.writeFile(files.live, desired, { mode: MANIFEST_MODE, owner: 'root', group: 'root' });
        ctx.state.markUnitStarted(podMark(files.component));
        return;
      }
      await host.writeFile(files.staged, desired, { mode: MANIFEST_MODE, owner: 'root', group: 'root' });
    },
  };
}

async function startedAfter(host: RemoteHost, component: string, t0: number): Promise<boolean> {
  const r = await host.exec(shScript(PROCESSES, [component], 'kprov-static-pod'), { timeoutMs: 15_000 });
  return r.code === 0 && r.stdout.split('\n').some((l) => Number(l) >= t0);
}

export interface StaticPodRestart {
  component: string;
  healthy: HealthProbe<ClusterRun>;
  timeoutMs: number;
  /** The host's variables (kube_config_dir): where its manifests are. */
  varsOf(ctx: ClusterTaskContext): HostVars;
}

/** The rolling "restart <component>" of static-pod mode (see the module comment). */
function staticPodRestart(o: StaticPodRestart): Required<Pick<Handler<ClusterRun>, 'skipReason' | 'run' | 'waitHealthy'>> {
  const movedAt = new Map<string, number>();
  return {
    skipReason(ctx) {
      return ctx.state.startedSinceLastChange(podMark(o.component)) ? `${o.component}'s manifest was written by this run after every change` : undefined;
    },
    async run(host, ctx) {
      const f = manifestFiles(o.varsOf(ctx), o.component, '');
      const r = await host.exec(shScript(INSTALL, [o.component, f.staged, f.live, f.unitFile, path.posix.basename(f.unitFile)], 'kprov-static-pod'), { timeoutMs: 150_000 });
      const last = r.stdout.trim().split('\n').at(-1) ?? '';
      const t0 = Number(last);
      if (r.code === 0 && last === 'same') {
        movedAt.delete(host.name);
        return { status: 'changed' };
      }
      if (r.code !== 0 || !Number.isFinite(t0)) throw new HostStepError(host.name, `installing ${o.component}'s static pod manifest failed (exit ${r.code})`, [r.stderr.trim()]);
      movedAt.set(host.name, t0);
      ctx.state.markUnitStarted(podMark(o.component));
      return { status: 'changed' };
    },
    async waitHealthy(host, ctx) {
      const t0 = movedAt.get(host.name);
      const probe = await o.healthy.command(ctx);
      try {
        await waitUntil(
          async () => ((t0 === undefined || (await startedAfter(host, o.component, t0))) && (await probePasses(host, probe, o.healthy.accept)) ? true : undefined),
          { what: `a new ${o.component} pod to run and answer its health check`, timeoutMs: o.timeoutMs, intervalMs: 1_000 },
        );
      } catch (err) {
        if (!(err instanceof WaitTimeoutError)) throw err;
        throw new HostStepError(host.name, `${o.component} is not healthy: ${err.message}`, await unitDiagnostics(host, KUBELET_UNIT), `see: journalctl -u ${KUBELET_UNIT}`);
      }
    },
  };
}

/**
 * Host mode where a static pod still runs (switching back from static-pod mode): the component's
 * start-and-wait tasks hold off (the pod has its port), and a task notifies its rolling restart,
 * whose host-mode run first takes the manifest out (`leaveStaticPod`).
 */
export function unlessStaticPodRuns(task: ClusterTask, live: string): ClusterTask {
  return {
    ...task,
    reads: async (ctx) => {
      const r = (await task.reads?.(ctx)) ?? {};
      return { ...r, paths: [...(r.paths ?? []), live] };
    },
    async check(host, ctx) {
      return (await statOf(host, live, ctx)) ? [] : task.check(host, ctx);
    },
  };
}

export function noStaticPodTask(component: string, live: string, notify: readonly string[]): ClusterTask {
  return {
    name: `no ${component} static pod`,
    notify,
    reads: () => ({ paths: [live] }),
    async check(host, ctx) {
      return (await statOf(host, live, ctx)) ? [{ kind: 'custom', summary: `switch ${component} from its static pod to its systemd unit (one host at a time)` }] : [];
    },
    async apply() {
      // The rolling restart does it, one control-plane host at a time.
    },
  };
}

/** $1 component, $2 live manifest: the manifest out, and (bounded) until the pod's process is gone. */
const LEAVE = String.raw`${PIDS_OF}c=$1 live=$2
[ -f "$live" ] || exit 0
rm -f -- "$live"
i=0
while [ $i -lt 60 ]; do
  [ -z "$(pids_of "$c")" ] && exit 0
  sleep 1; i=$((i + 1))
done
echo "the $c pod still runs 60 s after its manifest was removed" >&2
exit 1`;

/** Before a host-mode restart: the static pod's manifest removed and its process gone; then the unit is enabled. */
async function leaveStaticPod(host: RemoteHost, component: string, live: string, unit: string): Promise<boolean> {
  const present = await host.exec(['test', '-f', live]);
  if (present.code !== 0) return false;
  const r = await host.exec(shScript(LEAVE, [component, live], 'kprov-static-pod'), { timeoutMs: 90_000 });
  if (r.code !== 0) throw new HostStepError(host.name, `taking ${component}'s static pod down failed`, [r.stderr.trim()]);
  await host.run(['systemctl', 'enable', '--', unit]);
  return true;
}

export interface EitherModeRestart extends StaticPodRestart {
  /** The host-mode restart (restartHandler of the component's unit, rolling). */
  unitRestart: Handler<ClusterRun>;
  isStaticPod(run: ClusterRun): boolean;
  /** After a host is healthy again following a restart this handler made (not a skipped one). */
  settle?(host: RemoteHost, ctx: ClusterTaskContext): Promise<void>;
}

/**
 * "restart <component>" in either mode: the unit's rolling restart in host mode (a static pod
 * still running is taken down first: switching back), the staged manifest's rolling install in
 * static-pod mode.
 */
export function restartInEitherMode(o: EitherModeRestart): Handler<ClusterRun> {
  const unit = o.unitRestart;
  const pod = staticPodRestart(o);
  const restarted = new Set<string>();
  return {
    ...unit,
    skipReason: (ctx) => (o.isStaticPod(ctx.run) ? pod.skipReason(ctx) : unit.skipReason?.(ctx)),
    run: async (host, ctx) => {
      restarted.add(host.name);
      if (o.isStaticPod(ctx.run)) return pod.run(host, ctx);
      await leaveStaticPod(host, o.component, manifestPath(o.varsOf(ctx), o.component), unit.unit ?? `${o.component}.service`);
      return unit.run(host, ctx);
    },
    waitHealthy: async (host, ctx) => {
      await (o.isStaticPod(ctx.run) ? pod.waitHealthy(host, ctx) : unit.waitHealthy?.(host, ctx));
      if (restarted.delete(host.name)) await o.settle?.(host, ctx);
    },
  };
}
