/**
 * One component of a host upgraded in place, with a way back: an `upgrade-*` role wraps the role
 * that installs the component (etcd, control-plane, node) and runs its tasks between two of its
 * own, so that the roles stay the one description of what a host runs.
 *
 * 1. **drain** (nodes, `drain_nodes`): the node is cordoned and drained (on the first
 *    control-plane host) before anything of it changes.
 * 2. **keep the previous files**: when the role would install other binaries (a new release), the
 *    component's binaries and config files are copied to `<file>.previous` and listed in a
 *    rollback record (`/var/lib/kprov/upgrade/<component>.rollback`) before the role's tasks
 *    replace them. An upgrade interrupted after this point finds the record and goes on from it.
 * 3. the wrapped role's tasks: the new binaries, config and units (their restart handlers find
 *    the units restarted by step 4 and skip).
 * 4. **health gate**: the component's units are restarted in order, each must become healthy
 *    (bounded), then report the new version (the API server's /version, the Node's
 *    kubeletVersion). Passed: the `.previous` files and the record go. Failed: every file is put
 *    back from `.previous` (files that did not exist before are removed), the units restart on
 *    the old binaries and must be healthy again, and the host fails, naming the gate that failed:
 *    a `serial` play stops there and the hosts after it keep the old version.
 * 5. **uncordon** what step 1 cordoned.
 */
import type { ClusterRole, ClusterRun, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import { DOWNLOAD_TAG } from '../../cluster/artifact-binaries.js';
import type { Change } from '../../engine/contract.js';
import { HostStepError, describeFailure } from '../../engine/errors.js';
import { probeHealthy, statOf, waitActive, type HealthProbe } from '../../engine/tasks/index.js';
import { waitUntil, WaitTimeoutError } from '../../engine/wait.js';
import { KprovError } from '../../errors.js';
import { shScript } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';
import { outcome, outputTail } from '../verify/tools.js';
import { apiDriver, CORDONED_BY_UPGRADE as CORDONED } from './node-api.js';

export interface UpgradeUnit {
  unit: string;
  healthy: HealthProbe<ClusterRun>;
  timeoutMs: number;
}

export interface UpgradeComponent {
  /** `etcd`, `control-plane`, `node`: messages and the rollback record's name. */
  name: string;
  /** The binaries and config files a rollback puts back. */
  files(ctx: ClusterTaskContext): string[];
  /** Restarted in this order by the health gate, each healthy before the next. */
  units(ctx: ClusterTaskContext): UpgradeUnit[];
  /**
   * After the units are healthy: why the host does not report kube_version yet, or undefined
   * when it does. Asked again (bounded) until it answers undefined.
   */
  versionProblem?(host: RemoteHost, ctx: ClusterTaskContext): Promise<string | undefined>;
  /** Cordon and drain the node first (unless drain_nodes is false), uncordon it after. */
  drain?: boolean;
}

export const ROLLBACK_DIR = '/var/lib/kprov/upgrade';
const VERSION_WAIT_MS = 90_000;

export const rollbackRecord = (component: string) => `${ROLLBACK_DIR}/${component}.rollback`;

const KEEP_SCRIPT = `set -e
rec=$1; shift
mkdir -p -m 0700 -- "\${rec%/*}"
tmp="$rec.tmp"
: > "$tmp"
for p; do
  if [ -e "$p" ]; then
    cp -a -- "$p" "$p.previous.tmp"
    sync -- "$p.previous.tmp"
    mv -f -- "$p.previous.tmp" "$p.previous"
    printf 'keep %s\\n' "$p" >> "$tmp"
  else
    printf 'new %s\\n' "$p" >> "$tmp"
  fi
done
sync -- "$tmp"
mv -f -- "$tmp" "$rec"`;

const ROLLBACK_SCRIPT = `set -e
rec=$1
while read -r how p; do
  case $how in
    keep) if [ -e "$p.previous" ]; then mv -f -- "$p.previous" "$p"; else echo "$p.previous is missing: $p stays as it is" >&2; fi ;;
    new) rm -f -- "$p" ;;
  esac
done < "$rec"
systemctl daemon-reload`;

const COMMIT_SCRIPT = `set -e
rec=$1
while read -r how p; do if [ "$how" = keep ]; then rm -f -- "$p.previous"; fi; done < "$rec"
rm -f -- "$rec"`;

/** The context without the play's read-ahead: after a restart, what was read before says nothing. */
function fresh(ctx: ClusterTaskContext): ClusterTaskContext {
  const { cache: _cache, ...rest } = ctx;
  return rest as ClusterTaskContext;
}

async function restartHealthy(host: RemoteHost, ctx: ClusterTaskContext, units: readonly UpgradeUnit[]): Promise<void> {
  await host.run(['systemctl', 'daemon-reload']);
  ctx.state.markDaemonReloaded();
  const now = fresh(ctx);
  for (const u of units) {
    await host.run(['systemctl', 'restart', '--', u.unit]);
    ctx.state.markUnitStarted(u.unit);
    await waitActive(host, u.unit, { timeoutMs: u.timeoutMs, intervalMs: 1_000 }, () => probeHealthy(host, now, u.healthy));
  }
}

export function upgradeRole(name: string, inner: ClusterRole, component: UpgradeComponent): ClusterRole {
  const record = rollbackRecord(component.name);
  return {
    name,
    tags: ['upgrade', ...(inner.tags ?? [])],
    taskTags: [...new Set([...(inner.taskTags ?? []), DOWNLOAD_TAG])],
    ...(inner.handlers ? { handlers: inner.handlers } : {}),
    ...(inner.validate ? { validate: inner.validate } : {}),
    ...(inner.prepare ? { prepare: inner.prepare } : {}),
    async tasks(ctx) {
      const innerTasks = await inner.tasks(ctx);
      const downloads = innerTasks.filter((t) => t.tags?.includes(DOWNLOAD_TAG));
      const kept = new Set(component.files(ctx));
      // The role's tasks for the files a rollback puts back (unit files, configs, the marker):
      // a change to one of them is gated like a new binary, never restarted by a bare handler.
      const keptFiles: ClusterTask[] = [];
      for (const t of innerTasks) {
        if (downloads.includes(t) || !t.reads) continue;
        const r = await t.reads(ctx);
        if ((r.units?.length ?? 0) === 0 && (r.commands?.length ?? 0) === 0 && (r.paths ?? []).some((p) => kept.has(p))) keptFiles.push(t);
      }
      const vars = ctx.run.inventory.hostVars(ctx.host.name);
      const version = vars.kube_version;
      let pending: Promise<string[]> | undefined;
      let upgrading = false;
      /** Why the component must be upgraded here (empty: it runs what the inventory asks). */
      const whyPending = (host: RemoteHost, tctx: ClusterTaskContext) =>
        (pending ??= (async () => {
          if (await statOf(host, record, tctx)) return [`an earlier upgrade left ${record}`];
          const reasons: string[] = [];
          for (const t of downloads) for (const c of await t.check(host, tctx)) reasons.push(c.summary);
          for (const t of keptFiles) {
            // A file whose content the role decides later (etcd's env file needs the membership
            // decision) cannot be judged yet: its own task reports it, and its binary gates it.
            const changes = await t.check(host, tctx).catch(() => []);
            for (const c of changes) reasons.push(c.summary);
          }
          return reasons;
        })());
      const drain = component.drain === true && vars.drain_nodes;
      // --tags download replaces binaries: here never without the copies, the gate and the drain.
      const own = (t: ClusterTask): ClusterTask => ({ ...t, tags: [DOWNLOAD_TAG] });
      return [
        ...(drain ? [own(drainTask(ctx, whyPending))] : []),
        own({
          name: `keep the previous ${component.name} files until the health gate passes`,
          async reads(tctx) {
            const reads = await Promise.all([...downloads, ...keptFiles].map(async (t) => (t.reads ? await t.reads(tctx) : {})));
            return { paths: [record, ...reads.flatMap((r) => r.paths ?? [])], commands: reads.flatMap((r) => r.commands ?? []) };
          },
          async check(host, tctx) {
            const why = await whyPending(host, tctx);
            if (why.length === 0) return [];
            upgrading = true;
            if (await statOf(host, record, tctx)) return [];
            const files = component.files(tctx);
            // The record is what later checks read (the copies beside the files nobody reads).
            return [{ kind: 'file', path: record, summary: `keep ${files.join(', ')} as <file>.previous (${why.length} file(s) to replace, e.g. ${why[0]})` }];
          },
          async apply(host, _changes, tctx) {
            await host.run(shScript(KEEP_SCRIPT, [record, ...component.files(tctx)], 'kprov-keep-previous'), { timeoutMs: 120_000 });
          },
        }),
        ...innerTasks,
        own({
          name: `${component.name} health gate (${version}), rolled back on failure`,
          async check(host, tctx): Promise<Change[]> {
            if (!upgrading && !(await statOf(host, record, fresh(tctx)))) return [];
            const units = component.units(tctx).map((u) => u.unit);
            return [{ kind: 'service', summary: `restart ${units.join(', ')}; each healthy${component.versionProblem ? `, reporting ${version}` : ''}, else roll back to <file>.previous` }];
          },
          async apply(host, _changes, tctx) {
            await gate(host, tctx, component, record, version);
          },
        }),
        ...(drain ? [own(uncordonTask(ctx))] : []),
      ];
    },
  };
}

async function gate(host: RemoteHost, ctx: ClusterTaskContext, component: UpgradeComponent, record: string, version: string): Promise<void> {
  const units = component.units(ctx);
  let failure: unknown;
  try {
    await restartHealthy(host, ctx, units);
    if (component.versionProblem) {
      let problem: string | undefined;
      try {
        await waitUntil(async () => ((problem = await component.versionProblem!(host, ctx)) === undefined ? true : undefined), {
          what: `${host.name} to report ${version}`,
          timeoutMs: VERSION_WAIT_MS,
          intervalMs: 2_000,
        });
      } catch (err) {
        if (!(err instanceof WaitTimeoutError)) throw err;
        throw new KprovError('host', `${problem ?? 'the new version is not reported'} (waited ${VERSION_WAIT_MS / 1000} s)`, { host: host.name });
      }
    }
  } catch (err) {
    failure = err;
  }
  if (failure === undefined) {
    await host.run(shScript(COMMIT_SCRIPT, [record], 'kprov-upgrade-done'));
    return;
  }
  const why = describeFailure(failure);
  const detail = why.output ?? [];
  // Back to what ran before: the previous files, the units restarted on them, healthy again.
  const back = await host.exec(shScript(ROLLBACK_SCRIPT, [record], 'kprov-rollback'), { timeoutMs: 120_000 });
  if (back.code !== 0) {
    throw new HostStepError(host.name, `${component.name} failed its health gate after the upgrade to ${version} (${why.message}), and putting back the previous files failed: ${outcome(back)}`, [...detail, ...outputTail(back)], `the previous files are the <file>.previous listed in ${record}`);
  }
  try {
    await restartHealthy(host, ctx, units);
  } catch (err) {
    throw new HostStepError(host.name, `${component.name} failed its health gate after the upgrade to ${version} (${why.message}); the previous files are back, but ${describeFailure(err).message}`, detail, `see: journalctl -u ${units.map((u) => u.unit).join(' -u ')}`);
  }
  await host.run(['rm', '-f', '--', record]);
  throw new HostStepError(
    host.name,
    `${component.name} failed its health gate after the upgrade to ${version}: ${why.message}; rolled back to the previous binaries and config, which run and are healthy`,
    detail,
    'the upgrade stopped here; the hosts after this one keep their version. Fix the cause and run kprov apply upgrade-cluster again',
  );
}

/** Cordon and drain the node on the first control-plane host, when its kubelet is about to change. */
function drainTask(ctx: ClusterTaskContext, whyPending: (host: RemoteHost, ctx: ClusterTaskContext) => Promise<string[]>): ClusterTask {
  const name = ctx.host.name;
  const vars = ctx.run.inventory.hostVars(name);
  return {
    name: `${name} cordoned and drained before its upgrade`,
    async check(host, tctx) {
      if ((await whyPending(host, tctx)).length === 0) return [];
      const api = await apiDriver(tctx);
      const node = await api.node(name);
      if (!node) return [];
      if (node.unschedulable && node.cordonedByUpgrade) return [];
      if (!node.ready) {
        tctx.warn(`${name} is not Ready: only cordoned, not drained (a dead kubelet never confirms an eviction)`);
        return [{ kind: 'custom', elsewhere: true, summary: `cordon ${name}` }];
      }
      return [{ kind: 'custom', elsewhere: true, summary: `cordon and drain ${name} (grace period ${vars.drain_grace_period} s, timeout ${vars.drain_timeout})` }];
    },
    async apply(_host, _changes, tctx) {
      const api = await apiDriver(tctx);
      const node = await api.node(name);
      if (!node) return;
      const must = async (args: string[], timeoutMs?: number) => {
        const r = await api.kubectl(args, timeoutMs);
        if (r.code !== 0) throw new HostStepError(name, `kubectl ${args.slice(0, 2).join(' ')} on ${api.host.name} ${outcome(r)}`, outputTail(r, 12));
      };
      // Marked before the cordon: only what this upgrade cordoned is uncordoned after it.
      if (!node.unschedulable) await must(['annotate', '--overwrite', 'node', name, `${CORDONED}=true`]);
      await must(['cordon', name]);
      if (!node.ready) return;
      const timeout = durationMs(vars.drain_timeout);
      await must(['drain', name, '--force', '--ignore-daemonsets', '--delete-local-data', `--grace-period=${vars.drain_grace_period}`, `--timeout=${vars.drain_timeout}`], timeout + 30_000);
    },
  };
}


function uncordonTask(ctx: ClusterTaskContext): ClusterTask {
  const name = ctx.host.name;
  return {
    name: `${name} uncordoned after its upgrade`,
    async check(_host, tctx) {
      const node = await (await apiDriver(tctx)).node(name);
      return node?.cordonedByUpgrade ? [{ kind: 'custom', elsewhere: true, summary: `uncordon ${name}` }] : [];
    },
    async apply(_host, _changes, tctx) {
      const api = await apiDriver(tctx);
      for (const args of [['uncordon', name], ['annotate', 'node', name, `${CORDONED}-`]]) {
        const r = await api.kubectl(args);
        if (r.code !== 0) throw new HostStepError(name, `kubectl ${args[0]} on ${api.host.name} ${outcome(r)}`, outputTail(r));
      }
    },
  };
}

/** `360s` → ms. */
function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) return 360_000;
  return Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

