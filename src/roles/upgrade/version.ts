/**
 * Which Kubernetes version a host runs, as kprov knows it: the version marker the node role
 * writes with the host's kubelet and kube-proxy binaries (`/var/lib/kprov/kube-version`), or, on
 * a host without one (built before markers existed, or stopped before the node play), what its
 * kubelet or kube-apiserver binary reports with `--version`. Hosts without Kubernetes binaries (etcd-only
 * members, hosts not built yet) run none.
 *
 * `apply cluster` asks every host first (the `kube-version` role in its preflight play) and
 * refuses, before anything changed, when one runs another version than kube_version: changing
 * the version of a running cluster is `kprov apply upgrade-cluster`'s work, host by host with
 * health gates, never a side effect of cluster.yml (Kubespray's silent half-upgrades).
 */
import type { ClusterRole, ClusterRun, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import { perRun } from '../../cluster/run.js';
import { file, probe } from '../../engine/tasks/index.js';
import type { ProbeCommand } from '../../engine/contract.js';
import { KprovError } from '../../errors.js';
import { shScript } from '../../ssh/quote.js';

export const VERSION_MARKER = '/var/lib/kprov/kube-version';

const INSTALLED_SCRIPT = `if [ -f "$1" ]; then cat -- "$1"; exit 0; fi
shift
for b; do if [ -x "$b" ]; then "$b" --version 2>&1 | head -n 1; exit 0; fi; done`;

/** Prints the marker, else the first line of `kubelet --version` or `kube-apiserver --version`, else nothing. */
export function installedVersionProbe(binDir: string): ProbeCommand {
  return { argv: shScript(INSTALLED_SCRIPT, [VERSION_MARKER, `${binDir}/kubelet`, `${binDir}/kube-apiserver`], 'kprov-kube-version'), timeoutMs: 20_000 };
}

/** `v1.13.5` from the probe's output (`v1.13.5` or `Kubernetes v1.13.5`), undefined when it names none. */
export function parseInstalledVersion(stdout: string): string | undefined {
  return /\bv\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?/.exec(stdout)?.[0];
}

/** Each host's version as this run found it (the upgrade's snapshot asks whether any host differs). */
export const installedVersions = perRun(() => new Map<string, string | undefined>());

export async function readInstalledVersion(host: Parameters<ClusterTask['check']>[0], ctx: ClusterTaskContext): Promise<string | undefined> {
  const vars = ctx.run.inventory.hostVars(ctx.host.name);
  const r = await probe(host, installedVersionProbe(vars.bin_dir), ctx);
  const version = r.code === 0 ? parseInstalledVersion(r.stdout) : undefined;
  installedVersions(ctx.run).set(ctx.host.name, version);
  return version;
}

/** The marker the node role writes with the kubelet and kube-proxy binaries of kube_version. */
export function versionMarkerTask(ctx: ClusterTaskContext, tags?: readonly string[]): ClusterTask {
  const version = ctx.run.inventory.hostVars(ctx.host.name).kube_version;
  return file({ name: 'kubelet version marker', path: VERSION_MARKER, content: `${version}\n`, mode: 0o644, owner: 'root', group: 'root', ...(tags ? { tags } : {}) });
}

function refusal(ctx: ClusterTaskContext, installed: string, wanted: string): KprovError {
  return new KprovError('refused', `${ctx.host.name} runs Kubernetes ${installed} and kube_version is ${wanted}: apply cluster does not change the version of a running cluster`, {
    host: ctx.host.name,
    hint: `upgrade it host by host with health gates: kprov apply upgrade-cluster -i ${ctx.inventory.dir} (or set kube_version back to ${installed})`,
  });
}

/**
 * The tags of cluster.yml's tasks that install Kubernetes binaries: the guard carries them too, so
 * `--tags node` (or kubelet, download …) cannot install another version past it, while
 * `--tags ssh-keys` still contacts no other host.
 */
const GUARDED_TAGS = ['control-plane', 'master', 'node', 'kubelet', 'kube-proxy', 'download'];

/** cluster.yml's guard: every host runs kube_version already, or no Kubernetes yet. */
export const kubeVersionRole: ClusterRole = {
  name: 'kube-version',
  tags: ['preinstall', 'preflight'],
  taskTags: GUARDED_TAGS,
  tasks(ctx) {
    const vars = ctx.run.inventory.hostVars(ctx.host.name);
    const task: ClusterTask = {
      name: 'installed Kubernetes version',
      tags: GUARDED_TAGS,
      reads: () => ({ commands: [installedVersionProbe(vars.bin_dir)] }),
      async check(host, tctx) {
        const installed = await readInstalledVersion(host, tctx);
        if (installed !== undefined && installed !== vars.kube_version) throw refusal(tctx, installed, vars.kube_version);
        return [];
      },
      async apply() {
        // check never reports changes: it only reads.
      },
    };
    return [task];
  },
};

/** Whether any host of this run was found on another version than its kube_version. */
export function versionDiffers(run: ClusterRun): string[] {
  const wanted = (h: string) => run.inventory.hostVars(h).kube_version;
  return [...installedVersions(run)].filter(([h, v]) => v !== undefined && v !== wanted(h)).map(([h, v]) => `${h} (${v})`);
}
