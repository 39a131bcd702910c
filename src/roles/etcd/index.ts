/**
 * The `etcd` role (hosts: etcd): etcd and etcdctl from the run's artifacts, the member's TLS
 * files, its data directory, environment file and systemd unit; membership decided from the
 * hosts (new cluster or join); every member started at once (a new cluster needs quorum before
 * any member is ready), then each waits, bounded, until it serves quorum reads. A changed binary,
 * certificate, env file or unit restarts the member, one member at a time.
 */
import { artifactBinaries, DOWNLOAD_TAG } from '../../cluster/artifact-binaries.js';
import { renderEtcdEnv, renderUnit } from '../../cluster/flags.js';
import { pkiFileTasks } from '../../cluster/pki.js';
import { prepareCluster } from '../../cluster/prepare.js';
import type { EtcdMember } from '../../cluster/topology.js';
import { KprovError } from '../../errors.js';
import path from 'node:path';
import { directory, file, healthGate, restartHandler, service, waitStarted, type HealthProbe } from '../../engine/tasks/index.js';
import type { ClusterHandler, ClusterRenderContext, ClusterRole, ClusterRun, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import { manifestDir, manifestFiles, manifestPath, manifestTask, noStaticPodTask, restartInEitherMode, stagedManifestPath, unlessStaticPodRuns } from '../../cluster/static-pod-tasks.js';
import { etcdImage, renderEtcdStaticPod } from './static-pod.js';
import { prepullTask } from '../../cluster/image-prepull.js';
import {
  ENV_TEMPLATE,
  ETCD_ENV_FILE,
  ETCD_UNIT,
  ETCD_UNIT_FILE,
  UNIT_TEMPLATE,
  etcdEnvVars,
  etcdTlsFiles,
  etcdUnitVars,
} from './config.js';
import { localMemberHealth, type Etcdctl } from './etcdctl.js';
import { membershipTask, type MembershipDecision } from './membership.js';
import { validateClusterUnits } from '../cluster-units.js';
import { backupTimerHandler, scheduledBackupTasks } from './scheduled-backup.js';

export const RESTART_ETCD = 'restart etcd';
/** A new cluster elects its first leader within a few election timeouts (5 s each). */
export const HEALTH_TIMEOUT_MS = 120_000;
/** A probe is one etcdctl start on the host (~30 ms of CPU); a new member is ready within a second or so. */
const HEALTH_INTERVAL_MS = 250;

function memberOf(ctx: ClusterTaskContext): EtcdMember {
  const member = ctx.run.topology.etcd.find((m) => m.host.name === ctx.host.name);
  if (!member) throw new KprovError('internal', `${ctx.host.name} runs the etcd role but is not in the etcd group`, { host: ctx.host.name });
  return member;
}

/** etcdctl on this etcd host with its health-check client certificate (also remove-node's). */
export async function etcdctlFor(ctx: ClusterTaskContext): Promise<Etcdctl> {
  const pki = await ctx.run.pki();
  const bin = `${memberOf(ctx).host.vars.bin_dir}/etcdctl`;
  return { bin, tls: etcdTlsFiles(pki.plan, ctx.host.name) };
}

/** Ready = the local member answers `endpoint health` (a quorum read) with the health-check client. */
export const healthy: HealthProbe<ClusterRun> = { command: async (ctx) => localMemberHealth(await etcdctlFor(ctx)) };

async function tasks(ctx: ClusterTaskContext): Promise<ClusterTask[]> {
  const topology = ctx.run.topology;
  const member = memberOf(ctx);
  const vars = member.host.vars;
  const etcdctl = await etcdctlFor(ctx);
  const notify = [RESTART_ETCD];
  let decision: MembershipDecision | undefined;
  const bootstrap = () => {
    if (!decision) throw new KprovError('internal', 'the etcd env file was rendered before the membership was decided', { host: ctx.host.name });
    return decision;
  };
  const envContent = (c: ClusterRenderContext) => renderEtcdEnv(c, ENV_TEMPLATE, etcdEnvVars(member, etcdctl.tls, bootstrap()));
  const shared = [
    // etcdctl is only a client: a new etcdctl restarts nothing (kprov's probes use the host's).
    artifactBinaries({ name: 'etcdctl binary', artifact: 'etcd', files: (name) => name !== 'etcd' }),
    ...(await pkiFileTasks(ctx, ['etcd'], { notify })),
    directory({ path: vars.etcd_data_dir, mode: 0o700, owner: 'root', group: 'root' }),
    membershipTask({ self: member, members: topology.etcd, dataDir: vars.etcd_data_dir, etcdctl, onDecision: (d) => (decision = d) }),
    // Both modes: in static-pod mode it is what the pod's command is made from.
    file({ path: ETCD_ENV_FILE, mode: 0o640, owner: 'root', group: 'root', content: envContent, notify }),
  ];
  if (isStaticPod(ctx.run)) {
    return [
      ...shared,
      directory({ path: manifestDir(vars), mode: 0o755 }),
      directory({ path: path.posix.dirname(stagedManifestPath(vars, 'etcd')), mode: 0o700 }),
      // Written in place on every member of a new cluster at once: none is ready before a quorum runs.
      prepullTask({ component: 'etcd', image: etcdImage(member), command: ['etcd', '--version'], manifestDir: manifestDir(vars), ctr: `${vars.bin_dir}/ctr`, runningIf: [manifestPath(vars, 'etcd'), ETCD_UNIT_FILE] }),
      manifestTask(manifestFiles(vars, 'etcd', () => renderEtcdStaticPod(ctx, member, envContent(ctx), etcdctl.tls)), notify),
      healthGate({ name: 'wait until the etcd member is healthy', unit: KUBELET_UNIT, healthy, what: 'the etcd member to serve quorum reads', failure: 'etcd (static pod) is not healthy', timeoutMs: HEALTH_TIMEOUT_MS, intervalMs: HEALTH_INTERVAL_MS }),
      ...scheduledBackupTasks(ctx, etcdctl.bin, etcdctl.tls),
    ];
  }
  const live = manifestPath(vars, 'etcd');
  return [
    artifactBinaries({ name: 'etcd binary', artifact: 'etcd', files: (name) => name === 'etcd', notify }),
    ...shared,
    file({ path: ETCD_UNIT_FILE, mode: 0o644, owner: 'root', group: 'root', content: (c) => renderUnit(c, UNIT_TEMPLATE, etcdUnitVars(member), 'etcd'), notify }),
    // Switching back from a static pod: the rolling restart takes the pod down first.
    noStaticPodTask('etcd', live, notify),
    // No waiting here: a member of a new cluster becomes ready only once a quorum has started.
    unlessStaticPodRuns(service({ name: `start ${ETCD_UNIT}`, unit: ETCD_UNIT, wait: false }), live),
    // The gate every run passes: the member serves quorum reads before the next play starts.
    unlessStaticPodRuns(waitStarted({ name: 'wait until the etcd member is healthy', unit: ETCD_UNIT, healthy, always: true, timeoutMs: HEALTH_TIMEOUT_MS, intervalMs: HEALTH_INTERVAL_MS }), live),
    ...scheduledBackupTasks(ctx, etcdctl.bin, etcdctl.tls),
  ];
}

const KUBELET_UNIT = 'kubelet.service';
const isStaticPod = (run: ClusterRun) => run.inventory.cluster.etcd_deployment_type === 'static_pod';

/** "restart etcd": a rolling unit restart in host mode, a rolling manifest install in static-pod mode. */
function restartEtcd(): ClusterHandler {
  return restartInEitherMode({
    component: 'etcd',
    unitRestart: restartHandler<ClusterRun>({ name: RESTART_ETCD, unit: ETCD_UNIT, rolling: true, healthy, timeoutMs: HEALTH_TIMEOUT_MS, intervalMs: HEALTH_INTERVAL_MS }),
    isStaticPod,
    healthy,
    timeoutMs: HEALTH_TIMEOUT_MS,
    varsOf: (ctx) => memberOf(ctx).host.vars,
  });
}

export const etcdRole: ClusterRole = {
  name: 'etcd',
  tags: ['etcd'],
  taskTags: [DOWNLOAD_TAG],
  handlers: [restartEtcd(), backupTimerHandler],
  validate: validateClusterUnits,
  prepare: prepareCluster,
  tasks,
};
