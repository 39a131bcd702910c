import type { Command } from 'commander';
import { cp, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../errors.js';
import { nameHosts, parseHostList, renderInventoryIni } from '../inventory/builder.js';
import { sampleInventoryDir } from '../paths.js';
import type { CliIO } from './io.js';

export interface InitOptions {
  hosts?: string;
  force?: boolean;
}

/** Copies the sample inventory to `dir`, optionally writing inventory.ini for the given hosts. */
export async function initInventory(dir: string, options: InitOptions): Promise<{ hosts: number }> {
  const existing = await stat(dir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new KprovError('usage', `${dir} exists and is not a directory`);
  }
  if (existing && !options.force && (await readdir(dir)).length > 0) {
    throw new KprovError('usage', `${dir} already exists and is not empty`, {
      hint: 'pass --force to overwrite the inventory files in it (pki/ and credentials/ are kept)',
    });
  }
  const addresses = options.hosts === undefined ? undefined : parseHostList(options.hosts);
  await mkdir(dir, { recursive: true });
  await cp(sampleInventoryDir, dir, { recursive: true, force: true });
  if (addresses) {
    const ini = renderInventoryIni(nameHosts(addresses), `Written by kprov init --hosts ${addresses.join(',')}`);
    await writeFile(path.join(dir, 'inventory.ini'), ini);
    return { hosts: addresses.length };
  }
  return { hosts: 0 };
}

export function registerInit(program: Command, io: CliIO): void {
  program
    .command('init')
    .description('scaffold an inventory (inventory.ini + group_vars) from inventory/sample')
    .argument('<dir>', 'directory to create, e.g. inventory/mycluster')
    .option('--hosts <addresses>', 'comma-separated host addresses; writes inventory.ini naming them node1…nodeN')
    .option('--force', 'overwrite an existing inventory')
    .addHelpText(
      'after',
      '\nWith --hosts, the first three hosts (or all if fewer) form the control plane and etcd;\nevery host is a node, as Kubespray\'s inventory builder lays them out.',
    )
    .action(async (dir: string, options: InitOptions) => {
      const target = path.resolve(io.cwd, dir);
      const { hosts } = await initInventory(target, options);
      const shown = path.relative(io.cwd, target) || '.';
      io.out(hosts > 0 ? `Created ${shown} with ${hosts} host(s).` : `Created ${shown} from the sample inventory.`);
      io.out(
        hosts > 0
          ? `Next: review ${shown}/group_vars, then run: kprov apply cluster -i ${shown}`
          : `Next: list your machines in ${shown}/inventory.ini, then run: kprov apply cluster -i ${shown}`,
      );
    });
}
