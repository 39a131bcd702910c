/**
 * The `control-plane` role (hosts: kube_control_plane): kube-apiserver, kube-controller-manager,
 * kube-scheduler and kubectl from the run's artifacts; the certificates and kubeconfigs each of
 * them reads; their systemd units. Started apiserver first (healthy before the others), then the
 * controller manager and scheduler. A changed input restarts only the components that read it,
 * one control-plane host at a time, each healthy before the next.
 */
import { artifactBinaries, DOWNLOAD_TAG } from '../../cluster/artifact-binaries.js';
import { pkiFileTasks } from '../../cluster/pki.js';
import { prepareCluster } from '../../cluster/prepare.js';
import type { ClusterHost } from '../../cluster/topology.js';
import { KprovError } from '../../errors.js';
import path from 'node:path';
import { directory, file, healthGate, restartHandler, service, waitStarted, type HealthProbe } from '../../engine/tasks/index.js';
import type { ClusterHandler, ClusterPlayContext, ClusterRole, ClusterRun, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import { imageOf, renderStaticPod } from './static-pods.js';
import { prepullTask } from '../../cluster/image-prepull.js';
import { apiProxySettleMs } from '../node/api-proxy.js';
import { manifestDir, manifestFiles, manifestPath, manifestTask, noStaticPodTask, restartInEitherMode, stagedManifestPath, unlessStaticPodRuns } from '../../cluster/static-pod-tasks.js';
import { validateClusterUnits } from '../cluster-units.js';
import { writeLocalhostArtifacts } from './localhost-artifacts.js';
import { apiserverHealth, componentHealth, type Kubectl } from './health.js';
import {
  CONTROL_PLANE_COMPONENTS,
  controlPlaneFiles,
  controlPlaneUnitVars,
  controlPlaneReaders,
  unitFile,
  renderControlPlaneUnit,
  type ControlPlaneComponent,
} from './units.js';

export const restartHandlerName = (c: ControlPlaneComponent) => `restart ${c}`;

const FOLLOWERS = ['kube-controller-manager', 'kube-scheduler'] as const;

export const HEALTH = { timeoutMs: 90_000, intervalMs: 500 };

function hostOf(ctx: ClusterTaskContext): ClusterHost {
  const host = ctx.run.topology.controlPlane.find((h) => h.name === ctx.host.name);
  if (!host) throw new KprovError('internal', `${ctx.host.name} runs the control-plane role but is not in kube_control_plane`, { host: ctx.host.name });
  return host;
}

/** The kubectl kprov installs on this control-plane host, with its admin.conf. */
export async function kubectlFor(ctx: ClusterTaskContext): Promise<Kubectl> {
  const pki = await ctx.run.pki();
  return { bin: `${hostOf(ctx).vars.bin_dir}/kubectl`, kubeconfig: controlPlaneFiles(pki.plan, ctx.host.name).adminConf };
}

/** Readiness of each component on its host (also the upgrade's health gate). */
export const HEALTHY: Record<ControlPlaneComponent, HealthProbe<ClusterRun>> = {
  'kube-apiserver': apiserverHealth(kubectlFor),
  'kube-controller-manager': componentHealth(kubectlFor, 'controller-manager'),
  'kube-scheduler': componentHealth(kubectlFor, 'scheduler'),
};

const unitOfComponent = (c: ControlPlaneComponent) => `${c}.service`;

const isStaticPod = (run: ClusterRun) => run.inventory.cluster.control_plane_deployment_type === 'static_pod';

async function tasks(ctx: ClusterTaskContext): Promise<ClusterTask[]> {
  const topology = ctx.run.topology;
  const host = hostOf(ctx);
  const pki = await ctx.run.pki();
  const vars = controlPlaneUnitVars(topology, host, controlPlaneFiles(pki.plan, host.name));
  const restart = (c: ControlPlaneComponent) => [restartHandlerName(c)];
  const shared = [
    artifactBinaries({ name: 'kubectl binary', artifact: 'kubectl' }),
    ...(await pkiFileTasks(ctx, ['control-plane'], { notify: (f) => controlPlaneReaders(f.readers).map(restartHandlerName) })),
    ...auditTasks(ctx, host, restart('kube-apiserver')),
  ];
  if (isStaticPod(ctx.run)) {
    return [
      ...shared,
      directory({ path: path.posix.join(host.vars.kube_config_dir, 'manifests'), mode: 0o755 }),
      directory({ path: path.posix.dirname(stagedManifestPath(host.vars, 'kube-apiserver')), mode: 0o700 }),
      ...CONTROL_PLANE_COMPONENTS.flatMap((c) => {
        const files = staticPodFiles(ctx, host, c, vars[c]);
        const pull = { component: c, image: imageOf(host.vars, c), command: [c, '--version'], manifestDir: manifestDir(host.vars), ctr: `${host.vars.bin_dir}/ctr`, runningIf: [files.live, files.unitFile] };
        return [prepullTask(pull), manifestTask(files, restart(c))];
      }),
      // The API server first, then the others (they elect a leader and report through it).
      ...CONTROL_PLANE_COMPONENTS.map((c) =>
        healthGate({ name: `${c} healthy`, unit: KUBELET_UNIT, healthy: HEALTHY[c], what: `${c} to answer`, failure: `${c} (static pod) is not healthy`, timeoutMs: STATIC_POD_TIMEOUT_MS, intervalMs: 1_000 }),
      ),
    ];
  }
  return [
    ...CONTROL_PLANE_COMPONENTS.map((c) => artifactBinaries({ name: `${c} binary`, artifact: c, notify: restart(c) })),
    ...shared,
    ...CONTROL_PLANE_COMPONENTS.map((c) =>
      file<ClusterRun>({
        path: unitFile(c),
        mode: 0o644,
        owner: 'root',
        group: 'root',
        content: (tc) => renderControlPlaneUnit(tc, host, c, vars[c]),
        notify: restart(c),
      }),
    ),
    // Switching back from static pods: each component's rolling restart takes its pod down first.
    ...CONTROL_PLANE_COMPONENTS.map((c) => noStaticPodTask(c, manifestPath(host.vars, c), restart(c))),
    // The API server first, healthy: the others need it to elect a leader and to report healthy.
    // Then the controller manager and the scheduler together.
    unlessStaticPodRuns(service({ name: 'start kube-apiserver.service', unit: unitOfComponent('kube-apiserver'), healthy: HEALTHY['kube-apiserver'], ...HEALTH }), manifestPath(host.vars, 'kube-apiserver')),
    ...FOLLOWERS.map((c) => unlessStaticPodRuns(service({ name: `start ${unitOfComponent(c)}`, unit: unitOfComponent(c), wait: false }), manifestPath(host.vars, c))),
    ...FOLLOWERS.map((c) => unlessStaticPodRuns(waitStarted({ unit: unitOfComponent(c), healthy: HEALTHY[c], ...HEALTH }), manifestPath(host.vars, c))),
  ];
}

const KUBELET_UNIT = 'kubelet.service';
/** A static pod's first start may include pulling its image. */
const STATIC_POD_TIMEOUT_MS = 180_000;

/** The component's manifest: its unit rendered and flag-checked as in host mode, as a pod. */
function staticPodFiles(ctx: ClusterTaskContext, host: ClusterHost, c: ControlPlaneComponent, vars: Record<string, unknown>) {
  return manifestFiles(host.vars, c, renderStaticPod(ctx, host, c, renderControlPlaneUnit(ctx, host, c, vars)));
}

/** "restart <component>": a rolling unit restart in host mode, a rolling manifest install in static-pod mode. */
function componentHandler(c: ControlPlaneComponent): ClusterHandler {
  return restartInEitherMode({
    component: c,
    unitRestart: restartHandler<ClusterRun>({ name: restartHandlerName(c), unit: unitOfComponent(c), rolling: true, healthy: HEALTHY[c], ...HEALTH }),
    isStaticPod,
    healthy: HEALTHY[c],
    timeoutMs: STATIC_POD_TIMEOUT_MS,
    varsOf: (ctx) => hostOf(ctx).vars,
    // The workers' proxies use this API server again before the next one goes down.
    settle: async (_host, ctx) => {
      const ms = c === 'kube-apiserver' ? apiProxySettleMs(ctx.run.topology.apiProxy) : 0;
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    },
  });
}

/** kubernetes_audit: the policy kube-apiserver reads, and the directory its log goes to. */
function auditTasks(ctx: ClusterTaskContext, host: ClusterHost, notify: string[]): ClusterTask[] {
  const v = host.vars;
  if (!v.kubernetes_audit) return [];
  return [
    directory({ path: path.posix.dirname(v.audit_policy_file), mode: 0o755, owner: 'root', group: 'root' }),
    file({ path: v.audit_policy_file, mode: 0o644, owner: 'root', group: 'root', content: ctx.render('control-plane/apiserver-audit-policy.yaml.j2', {}), notify }),
    directory({ path: path.posix.dirname(v.audit_log_path), mode: 0o700, owner: 'root', group: 'root' }),
  ];
}

async function prepare(ctx: ClusterPlayContext): Promise<void> {
  await prepareCluster(ctx);
  if (ctx.dryRun) return;
  await writeLocalhostArtifacts(ctx);
}

export const controlPlaneRole: ClusterRole = {
  name: 'control-plane',
  tags: ['control-plane'],
  taskTags: [DOWNLOAD_TAG],
  // Declaration order is run order: API servers first, each host healthy before the next.
  handlers: CONTROL_PLANE_COMPONENTS.map(componentHandler),
  validate: validateClusterUnits,
  prepare,
  tasks,
};
