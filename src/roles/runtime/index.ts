/**
 * The `runtime` role: containerd and runc from the artifacts, containerd's config (CRI plugin on,
 * runc's cgroup driver the kubelet's), its systemd unit enabled and active, `ctr version`
 * answering, and net.ipv4.ip_forward on. containerd restarts only when its binary, config or
 * unit changed in this run (and not when this run started it after they changed).
 */
import { artifactBinaries, DOWNLOAD_TAG } from '../../cluster/artifact-binaries.js';
import { renderUnit } from '../../cluster/flags.js';
import { directory, file, restartHandler, service, sysctl } from '../../engine/tasks/index.js';
import type { ClusterRenderContext, ClusterRole } from '../../cluster/run.js';
import { CONTAINERD_CONFIG, CONTAINERD_SOCKET, CONTAINERD_UNIT_PATH, containerdPaths, containerdTemplateVars } from './containerd.js';
import { containerdAnswersTask, CONTAINERD_UNIT, ctrHealth } from './ctr-answers.js';

export const RESTART_CONTAINERD = 'restart containerd';
export const IP_FORWARD_SYSCTL_FILE = '/etc/sysctl.d/99-kprov-ip-forward.conf';

/** containerd's config and unit for one host, rendered strictly (bad versions and templates fail here). */
export function renderRuntimeFiles(ctx: ClusterRenderContext, host: string): { config: string; unit: string } {
  const vars = containerdTemplateVars(ctx.run.inventory.hostVars(host));
  return {
    config: ctx.render('runtime/containerd-config.toml.j2', vars),
    unit: renderUnit(ctx, 'runtime/containerd.service.j2', vars, 'none'),
  };
}

export const runtimeRole: ClusterRole = {
  name: 'runtime',
  tags: ['runtime', 'containerd', 'container-engine'],
  taskTags: [DOWNLOAD_TAG],
  handlers: [
    restartHandler({
      name: RESTART_CONTAINERD,
      unit: CONTAINERD_UNIT,
      timeoutMs: 30_000,
      intervalMs: 500,
      healthy: ctrHealth((ctx) => ({ ctr: containerdPaths(ctx.run.inventory.hostVars(ctx.host.name)).ctr, socket: CONTAINERD_SOCKET })),
    }),
  ],
  validate(ctx) {
    // Every host's files render before any host of the playbook is touched.
    for (const h of ctx.hosts) renderRuntimeFiles(ctx, h.name);
  },
  tasks(ctx) {
    const paths = containerdPaths(ctx.run.inventory.hostVars(ctx.host.name));
    const { config, unit } = renderRuntimeFiles(ctx, ctx.host.name);
    return [
      sysctl({ name: 'net.ipv4.ip_forward = 1', settings: { 'net.ipv4.ip_forward': 1 }, file: IP_FORWARD_SYSCTL_FILE }),
      artifactBinaries({ name: 'containerd binaries', artifact: 'containerd', expect: [paths.containerd, paths.ctr], notify: [RESTART_CONTAINERD] }),
      artifactBinaries({ name: 'runc binary', artifact: 'runc', expect: [paths.runc] }),
      directory({ path: '/etc/containerd', mode: 0o755 }),
      file({ path: CONTAINERD_CONFIG, content: config, mode: 0o644, notify: [RESTART_CONTAINERD] }),
      file({ path: CONTAINERD_UNIT_PATH, content: unit, mode: 0o644, notify: [RESTART_CONTAINERD] }),
      service({ unit: CONTAINERD_UNIT }),
      containerdAnswersTask({ ctr: paths.ctr, socket: CONTAINERD_SOCKET }),
    ];
  },
};
