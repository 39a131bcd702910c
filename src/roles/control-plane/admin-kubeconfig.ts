/**
 * The user's admin kubeconfig, `<inventory>/artifacts/admin.conf` (0600 in a 0700 directory),
 * pointing at the cluster's API endpoint. Rewritten only when its content changes.
 */
import path from 'node:path';
import type { ClusterPki } from '../../cluster/pki.js';
import { ensureMode, ensurePrivateDir, readIfExists, writeFileAtomic } from '../../pki/store.js';

export const ARTIFACTS_DIR_NAME = 'artifacts';

export function adminKubeconfigPath(inventoryDir: string): string {
  return path.join(inventoryDir, ARTIFACTS_DIR_NAME, 'admin.conf');
}

/** Writes admin.conf under the inventory; returns whether its content changed. */
export async function writeAdminKubeconfig(inventoryDir: string, pki: ClusterPki): Promise<boolean> {
  const file = adminKubeconfigPath(inventoryDir);
  await ensurePrivateDir(path.dirname(file));
  const content = await pki.adminKubeconfig();
  const current = await readIfExists(file);
  if (current?.toString('utf8') === content) {
    await ensureMode(file, 0o600);
    return false;
  }
  await writeFileAtomic(file, content, 0o600);
  return true;
}
