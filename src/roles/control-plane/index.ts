/**
 * The `control-plane` role (hosts: kube_control_plane): kube-apiserver, kube-controller-manager,
 * kube-scheduler and kubectl from the run's artifacts; the certificates and kubeconfigs each of
 * them reads; their systemd units. Started apiserver first (healthy before the others), then the
 * controller manager and scheduler. A changed input restarts only the components that read it,
 * one control-plane host at a time, each healthy before the next.
 */
import { ensureClusterPki, pkiFileTasks } from '../../cluster/pki.js';
import { renderUnit } from '../../cluster/flags.js';
import { topologyOf } from '../../cluster/shared.js';
import type { ClusterHost } from '../../cluster/topology.js';
import { KprovError } from '../../errors.js';
import { file } from '../../engine/tasks/index.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { PlayContext, Role, Task, TaskContext } from '../types.js';
import { artifactBinaryTasks } from '../etcd/binaries.js';
import { prepareClusterRoles } from '../etcd/prepare.js';
import { restartUnit, startUnit, waitStarted } from '../etcd/systemd.js';
import { writeAdminKubeconfig } from './admin-kubeconfig.js';
import { apiserverHealthy, componentHealthy, type Kubectl } from './health.js';
import {
  CONTROL_PLANE_COMPONENTS,
  controlPlaneFiles,
  controlPlaneUnitVars,
  readersOf,
  unitFile,
  unitTemplate,
  type ControlPlaneComponent,
} from './units.js';

export const restartHandlerName = (c: ControlPlaneComponent) => `restart ${c}`;

const FOLLOWERS = ['kube-controller-manager', 'kube-scheduler'] as const;

const HEALTH = { timeoutMs: 90_000, intervalMs: 500 };

function hostOf(ctx: TaskContext): ClusterHost {
  const host = topologyOf(ctx.shared).controlPlane.find((h) => h.name === ctx.host.name);
  if (!host) throw new KprovError('internal', `${ctx.host.name} runs the control-plane role but is not in kube_control_plane`, { host: ctx.host.name });
  return host;
}

async function kubectlFor(ctx: TaskContext): Promise<Kubectl> {
  const pki = await ensureClusterPki(ctx.shared, { dryRun: ctx.dryRun });
  return { bin: `${hostOf(ctx).vars.bin_dir}/kubectl`, kubeconfig: controlPlaneFiles(pki.plan, ctx.host.name).adminConf };
}

/** Readiness of each component on its host. */
const HEALTHY: Record<ControlPlaneComponent, (host: RemoteHost, ctx: TaskContext) => Promise<boolean>> = {
  'kube-apiserver': async (host, ctx) => apiserverHealthy(host, await kubectlFor(ctx)),
  'kube-controller-manager': async (host, ctx) => componentHealthy(host, await kubectlFor(ctx), 'controller-manager'),
  'kube-scheduler': async (host, ctx) => componentHealthy(host, await kubectlFor(ctx), 'scheduler'),
};

async function tasks(ctx: TaskContext): Promise<Task[]> {
  const topology = topologyOf(ctx.shared);
  const host = hostOf(ctx);
  const pki = await ensureClusterPki(ctx.shared, { dryRun: ctx.dryRun });
  const vars = controlPlaneUnitVars(topology, host, controlPlaneFiles(pki.plan, host.name));
  const restart = (c: ControlPlaneComponent) => [restartHandlerName(c)];
  const binaries = await Promise.all([
    ...CONTROL_PLANE_COMPONENTS.map((c) => artifactBinaryTasks(ctx, c, { notify: restart(c) })),
    artifactBinaryTasks(ctx, 'kubectl'),
  ]);
  return [
    ...binaries.flat(),
    ...(await pkiFileTasks(ctx, ['control-plane'], { notify: (f) => readersOf(f.spec, f.part).map(restartHandlerName) })),
    ...CONTROL_PLANE_COMPONENTS.map((c) =>
      file({
        path: unitFile(c),
        mode: 0o644,
        owner: 'root',
        group: 'root',
        content: (tc) => renderUnit(tc, unitTemplate(c), vars[c], c),
        notify: restart(c),
      }),
    ),
    // The API server first, healthy: the others need it to elect a leader and to report healthy.
    // Then the controller manager and the scheduler together.
    startUnit({ unit: 'kube-apiserver.service', healthy: HEALTHY['kube-apiserver'], ...HEALTH }),
    ...FOLLOWERS.map((c) => startUnit({ unit: `${c}.service`, wait: false })),
    ...FOLLOWERS.map((c) => waitStarted({ unit: `${c}.service`, healthy: HEALTHY[c], ...HEALTH })),
  ];
}

async function prepare(ctx: PlayContext): Promise<void> {
  await prepareClusterRoles(ctx);
  if (ctx.dryRun) return;
  const pki = await ensureClusterPki(ctx.shared, { dryRun: false });
  await writeAdminKubeconfig(ctx.inventory.dir, pki);
}

export const controlPlaneRole: Role = {
  name: 'control-plane',
  tags: ['control-plane'],
  // Declaration order is run order: API servers first, each host healthy before the next.
  handlers: CONTROL_PLANE_COMPONENTS.map((c) => restartUnit({ name: restartHandlerName(c), unit: `${c}.service`, rolling: true, healthy: HEALTHY[c], ...HEALTH })),
  prepare,
  tasks,
};
