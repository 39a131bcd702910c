/**
 * What the control host gets in `<inventory>/artifacts/` (Kubespray's artifacts_dir): the admin
 * kubeconfig (`kubeconfig_localhost`, on by default in kprov) and the verified kubectl the
 * control-plane hosts run (`kubectl_localhost`), copied only when its content differs.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { ClusterPlayContext } from '../../cluster/run.js';
import { ensurePrivateDir, readIfExists } from '../../pki/store.js';
import { ARTIFACTS_DIR_NAME, writeAdminKubeconfig } from './admin-kubeconfig.js';

export async function writeLocalhostArtifacts(ctx: ClusterPlayContext): Promise<void> {
  const cluster = ctx.run.inventory.cluster;
  if (cluster.kubeconfig_localhost) await writeAdminKubeconfig(ctx.inventory.dir, await ctx.run.pki());
  if (cluster.kubectl_localhost) await copyKubectl(ctx);
}

async function copyKubectl(ctx: ClusterPlayContext): Promise<void> {
  const first = ctx.run.topology.controlPlane[0]!;
  const index = await ctx.run.artifacts();
  if (index.fetchedBy?.(first.name, 'kubectl')) {
    ctx.warn('kubectl_localhost: with download_localhost: false the control host has no kubectl of its own to copy; set download_localhost: true');
    return;
  }
  const kubectl = index.filesFor(first.name, 'kubectl').find((f) => f.name === 'kubectl');
  if (!kubectl) return;
  const target = path.join(ctx.inventory.dir, ARTIFACTS_DIR_NAME, 'kubectl');
  const current = await readIfExists(target);
  if (current && createHash('sha256').update(current).digest('hex') === kubectl.sha256) return;
  await ensurePrivateDir(path.dirname(target));
  // Copied beside the target and renamed, so a reader never runs half a binary.
  const temp = `${target}.${process.pid}.tmp`;
  await copyFile(kubectl.cachePath, temp);
  if (createHash('sha256').update(await readFile(temp)).digest('hex') !== kubectl.sha256) {
    throw new Error(`the cached kubectl changed while it was copied (${kubectl.cachePath})`);
  }
  await chmod(temp, 0o755);
  await rename(temp, target);
}
