/**
 * upgrade-cluster.yml's roles (Kubespray's upgrade-cluster.yml): the cluster moves to the
 * inventory's kube_version (and component versions) host by host, never all at once.
 *
 * - `upgrade-preflight` (every host, before anything changes): which version each host runs
 *   (version.ts), the new release downloaded and verified on the control host, the cluster
 *   healthy (each etcd member, each API server, every Node Ready). A host on a newer version than
 *   kube_version (a downgrade) or without Kubernetes yet is refused.
 * - `upgrade-snapshot` (the first etcd member): an etcd snapshot in `<inventory>/backups/` when
 *   some host runs another version, before the first member changes.
 * - `upgrade-etcd`, `upgrade-control-plane`, `upgrade-node`: the etcd, control-plane and node
 *   roles wrapped with a rollback and a health gate (rolling.ts).
 */
import { z } from 'zod';
import { controlPlaneRole, kubectlFor, HEALTH as CONTROL_PLANE_HEALTH, HEALTHY as CONTROL_PLANE_HEALTHY } from '../control-plane/index.js';
import { CONTROL_PLANE_COMPONENTS, unitFile } from '../control-plane/units.js';
import { etcdRole, etcdctlFor, healthy as etcdHealthy, HEALTH_TIMEOUT_MS as ETCD_HEALTH_TIMEOUT_MS } from '../etcd/index.js';
import { ETCD_ENV_FILE, ETCD_UNIT, ETCD_UNIT_FILE } from '../etcd/config.js';
import { backupEtcd } from '../etcd/backup.js';
import { KUBE_PROXY_HEALTH, KUBE_PROXY_UNIT_PATH, KUBELET_HEALTH, KUBELET_UNIT_PATH, nodeRole } from '../node/index.js';
import { httpHealth } from '../node/health.js';
import { KUBE_PROXY_CONFIG, KUBELET_CONFIG } from '../node/settings.js';
import type { ClusterRole, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import { HostStepError } from '../../engine/errors.js';
import { waitForProbe } from '../../engine/tasks/index.js';
import { KprovError } from '../../errors.js';
import type { RemoteHost } from '../../ssh/types.js';
import { apiserverHealthzProbe, etcdHealthProbe, execKubectl, outcome, outputTail, verifyPaths } from '../verify/tools.js';
import { apiDriver } from './node-api.js';
import { upgradeRole, type UpgradeComponent } from './rolling.js';
import { installedVersionProbe, readInstalledVersion, VERSION_MARKER, versionDiffers } from './version.js';

const binDir = (ctx: ClusterTaskContext) => ctx.run.inventory.hostVars(ctx.host.name).bin_dir;

const etcdComponent: UpgradeComponent = {
  name: 'etcd',
  files: (ctx) => [`${binDir(ctx)}/etcd`, `${binDir(ctx)}/etcdctl`, ETCD_ENV_FILE, ETCD_UNIT_FILE],
  units: () => [{ unit: ETCD_UNIT, healthy: etcdHealthy, timeoutMs: ETCD_HEALTH_TIMEOUT_MS }],
};

const versionSchema = z.looseObject({ gitVersion: z.string() });

const controlPlaneComponent: UpgradeComponent = {
  name: 'control-plane',
  files: (ctx) => [...CONTROL_PLANE_COMPONENTS.map((c) => `${binDir(ctx)}/${c}`), `${binDir(ctx)}/kubectl`, ...CONTROL_PLANE_COMPONENTS.map(unitFile)],
  units: () => CONTROL_PLANE_COMPONENTS.map((c) => ({ unit: `${c}.service`, healthy: CONTROL_PLANE_HEALTHY[c], timeoutMs: CONTROL_PLANE_HEALTH.timeoutMs })),
  // This host's own API server answers /version with kube_version.
  async versionProblem(host, ctx) {
    const k = await kubectlFor(ctx);
    const r = await host.exec([k.bin, `--kubeconfig=${k.kubeconfig}`, '--request-timeout=5s', 'get', '--raw=/version'], { timeoutMs: 15_000 });
    if (r.code !== 0) return `kube-apiserver's /version: kubectl ${outcome(r)}`;
    let reported: string | undefined;
    try {
      reported = versionSchema.parse(JSON.parse(r.stdout)).gitVersion;
    } catch {
      return `kube-apiserver's /version is not version info: ${r.stdout.trim().slice(0, 120)}`;
    }
    const wanted = ctx.run.inventory.hostVars(ctx.host.name).kube_version;
    return reported === wanted ? undefined : `kube-apiserver reports ${reported} on /version, not ${wanted}`;
  },
};

const nodeComponent: UpgradeComponent = {
  name: 'node',
  drain: true,
  files: (ctx) => [`${binDir(ctx)}/kubelet`, `${binDir(ctx)}/kube-proxy`, KUBELET_CONFIG, KUBELET_UNIT_PATH, KUBE_PROXY_CONFIG, KUBE_PROXY_UNIT_PATH, VERSION_MARKER],
  units: () => [
    { unit: KUBELET_HEALTH.unit, healthy: httpHealth(KUBELET_HEALTH.port, KUBELET_HEALTH.path), timeoutMs: 90_000 },
    { unit: KUBE_PROXY_HEALTH.unit, healthy: httpHealth(KUBE_PROXY_HEALTH.port, KUBE_PROXY_HEALTH.path), timeoutMs: 90_000 },
  ],
  // The Node object, as the API has it: Ready, with the kubelet reporting kube_version.
  async versionProblem(_host, ctx) {
    const node = await (await apiDriver(ctx)).node(ctx.host.name);
    const wanted = ctx.run.inventory.hostVars(ctx.host.name).kube_version;
    if (!node) return `Node ${ctx.host.name} is not registered`;
    if (node.kubeletVersion !== wanted) return `Node ${ctx.host.name} reports kubelet ${node.kubeletVersion ?? 'of no version'}, not ${wanted}`;
    if (!node.ready) return `Node ${ctx.host.name} is not Ready`;
    return undefined;
  },
};

function refuseUnsupported(ctx: { run: ClusterTaskContext['run'] }): void {
  const first = ctx.run.inventory.hosts[0]?.name;
  if (!first) return;
  const v = ctx.run.inventory.hostVars(first);
  const { etcd_deployment_type: etcdMode, control_plane_deployment_type: cpMode } = ctx.run.inventory.cluster;
  if (etcdMode === 'static_pod' || cpMode === 'static_pod') {
    // Its rollback keeps binaries and units; static pods change by their manifests' images.
    throw new KprovError('usage', `upgrade-cluster upgrades etcd and the control plane run as systemd units; this cluster runs ${etcdMode === 'static_pod' ? 'etcd' : 'the control plane'} as static pods`, {
      hint: 'switch to etcd_deployment_type: host and control_plane_deployment_type: host with kprov apply cluster (in place, one host at a time), upgrade, then switch back',
    });
  }
  if (v.upgrade_node_confirm || v.upgrade_node_pause_seconds > 0) {
    throw new KprovError('usage', `${v.upgrade_node_confirm ? 'upgrade_node_confirm' : 'upgrade_node_pause_seconds'} is set: kprov does not stop before each node`, {
      hint: 'leave it unset; each node must pass its health gate before the next one starts, and -e serial=N sets how many workers go at once',
    });
  }
}

const upgradeNode = upgradeRole('upgrade-node', nodeRole, nodeComponent);

export const upgradeEtcdRole = upgradeRole('upgrade-etcd', etcdRole, etcdComponent);
export const upgradeControlPlaneRole = upgradeRole('upgrade-control-plane', controlPlaneRole, controlPlaneComponent);
export const upgradeNodeRole: ClusterRole = {
  ...upgradeNode,
  validate(ctx) {
    refuseUnsupported(ctx);
    return upgradeNode.validate?.(ctx);
  },
};

const compare = (a: string, b: string): number => {
  const n = (v: string) => (/^v(\d+)\.(\d+)\.(\d+)/.exec(v) ?? []).slice(1).map(Number);
  const [x, y] = [n(a), n(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
};

const PREFLIGHT_WAIT = { timeoutMs: 30_000, intervalMs: 1_000 };

function preflightTasks(ctx: ClusterTaskContext): ClusterTask[] {
  const me = ctx.run.topology.hosts.find((h) => h.name === ctx.host.name);
  const vars = ctx.run.inventory.hostVars(ctx.host.name);
  const wanted = vars.kube_version;
  const tasks: ClusterTask[] = [];
  if (me?.isNode || me?.isControlPlane) {
    tasks.push({
      name: 'installed Kubernetes version',
      reads: () => ({ commands: [installedVersionProbe(vars.bin_dir)] }),
      async check(host, tctx) {
        const installed = await readInstalledVersion(host, tctx);
        if (installed === undefined) {
          throw new KprovError('refused', `${host.name} runs no Kubernetes yet: upgrade-cluster upgrades a running cluster`, { host: host.name, hint: 'build it first with kprov apply cluster' });
        }
        if (compare(installed, wanted) > 0) {
          throw new KprovError('refused', `${host.name} runs Kubernetes ${installed}, newer than kube_version ${wanted}: kprov does not downgrade`, { host: host.name, hint: `set kube_version to ${installed} or later` });
        }
        return [];
      },
      async apply() {},
    });
  }
  tasks.push({
    name: 'new release downloaded and verified',
    async check(_host, tctx) {
      // Downloaded and checked against its checksums on the control host once per run, before any host changes.
      await tctx.run.artifacts();
      return [];
    },
    async apply() {},
  });
  if (me?.isEtcd) {
    const member = ctx.run.topology.etcd.find((m) => m.host.name === ctx.host.name)!;
    const command = etcdHealthProbe(verifyPaths(ctx.run.topology, me), member);
    tasks.push({
      name: 'etcd member healthy',
      async check(host, tctx) {
        await waitForProbe(host, command, { unit: 'etcd.service', what: `${host.name}'s etcd member to answer endpoint health`, failure: `etcd on ${host.name} is not healthy; upgrade-cluster changes nothing on an unhealthy cluster`, ...PREFLIGHT_WAIT }, tctx);
        return [];
      },
      async apply() {},
    });
  }
  if (me?.isControlPlane) {
    const paths = verifyPaths(ctx.run.topology, me);
    const command = apiserverHealthzProbe(paths, me);
    tasks.push({
      name: 'API server healthy',
      async check(host, tctx) {
        await waitForProbe(host, command, { unit: 'kube-apiserver.service', what: `${host.name}'s API server to answer /healthz`, failure: `kube-apiserver on ${host.name} is not healthy; upgrade-cluster changes nothing on an unhealthy cluster`, accept: (r) => r.stdout.trim() === 'ok', ...PREFLIGHT_WAIT }, tctx);
        return [];
      },
      async apply() {},
    });
    if (ctx.run.topology.controlPlane[0]?.name === ctx.host.name) {
      tasks.push({
        name: 'every node Ready',
        async check(host) {
          const r = await execKubectl(host, paths, ['get', 'nodes', '-o', 'json'], { timeoutMs: 30_000 });
          if (r.code !== 0) throw new HostStepError(host.name, `listing the nodes: kubectl get ${outcome(r)}`, outputTail(r));
          const list = z.object({ items: z.array(z.looseObject({ metadata: z.looseObject({ name: z.string() }), status: z.looseObject({ conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).nullish() }).nullish() })) }).parse(JSON.parse(r.stdout));
          const notReady = list.items.filter((n) => (n.status?.conditions ?? []).find((c) => c.type === 'Ready')?.status !== 'True').map((n) => n.metadata.name);
          if (notReady.length > 0) {
            throw new KprovError('host', `not Ready: ${notReady.join(', ')}; upgrade-cluster changes nothing on an unhealthy cluster`, { host: host.name, hint: 'bring the nodes back (or take dead ones out with kprov apply remove-node), then upgrade' });
          }
          return [];
        },
        async apply() {},
      });
    }
  }
  return tasks;
}

export const upgradePreflightRole: ClusterRole = {
  name: 'upgrade-preflight',
  tags: ['preflight', 'upgrade-preflight'],
  validate: refuseUnsupported,
  tasks: preflightTasks,
};

/** The first etcd member of the play saves a snapshot before the first member changes. */
export const upgradeSnapshotRole: ClusterRole = {
  name: 'upgrade-snapshot',
  tags: ['upgrade-snapshot', 'etcd-snapshot'],
  async tasks(ctx) {
    if (ctx.playHosts[0]?.name !== ctx.host.name) return [];
    const member = ctx.run.topology.etcd.find((m) => m.host.name === ctx.host.name);
    if (!member) return [];
    const etcdctl = await etcdctlFor(ctx);
    const task: ClusterTask = {
      name: 'etcd snapshot saved before the upgrade',
      async check(_host, tctx) {
        const differ = versionDiffers(tctx.run);
        if (differ.length === 0) return [];
        return [{ kind: 'custom', summary: `save an etcd snapshot to ${tctx.inventory.dir}/backups/ (on another version: ${differ.join(', ')})` }];
      },
      async apply(host: RemoteHost, _changes, tctx) {
        const record = await backupEtcd(tctx.inventory.dir, [{ member, host, etcdctl }]);
        tctx.warn(`etcd snapshot saved before the upgrade: ${record.file} (${record.bytes} bytes, sha256 ${record.sha256.slice(0, 12)}…)`);
      },
    };
    return [task];
  },
};

