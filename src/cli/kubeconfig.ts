/**
 * `kprov kubeconfig [-i DIR]`: prints the cluster administrator's kubeconfig (admin.conf, pointing
 * at the cluster's API endpoint) from the PKI, e.g. `kprov kubeconfig > ~/.kube/config`.
 */
import type { Command } from 'commander';
import { clusterPkiDir, clusterPkiInput } from '../cluster/pki.js';
import { KprovError } from '../errors.js';
import { loadInventory, locateInventory } from '../inventory/load.js';
import { kubeconfigSet } from '../pki/index.js';
import { readIfExists } from '../pki/store.js';
import type { CliIO } from './io.js';
import { displayPath, resolveInventoryDir } from './resolve-inventory.js';

export async function runKubeconfig(options: { inventory?: string }, io: CliIO): Promise<string> {
  const { dir: inventoryDir } = await locateInventory(await resolveInventoryDir(options.inventory, io));
  const pkiDir = clusterPkiDir(inventoryDir);
  if ((await readIfExists(`${pkiDir}/admin.crt`)) === undefined) {
    throw new KprovError('pki', `the cluster of ${displayPath(inventoryDir, io.cwd)} was never applied: there is no admin certificate in ${displayPath(pkiDir, io.cwd)}`, {
      hint: `create the cluster first: kprov apply cluster -i ${displayPath(inventoryDir, io.cwd)}`,
    });
  }
  const input = clusterPkiInput(await loadInventory(inventoryDir));
  const admin = (await kubeconfigSet(pkiDir, input)).find((k) => k.spec === 'admin');
  if (!admin) throw new KprovError('internal', 'the PKI plan has no admin kubeconfig');
  io.out(admin.content);
  return admin.content;
}

export function registerKubeconfig(program: Command, io: CliIO): void {
  program
    .command('kubeconfig')
    .description("print the cluster administrator's kubeconfig (admin.conf) for kubectl")
    .option('-i, --inventory <dir>', 'inventory directory (default: $KPROV_INVENTORY, else the one under ./inventory)')
    .addHelpText('after', '\nThe same file is kept as <inventory>/artifacts/admin.conf (0600) by `kprov apply cluster`.\nIt embeds a cluster-admin private key: keep it private.')
    .action(async (options: { inventory?: string }) => {
      await runKubeconfig(options, io);
    });
}
