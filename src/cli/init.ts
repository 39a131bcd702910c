import type { Command } from 'commander';
import path from 'node:path';
import { initInventory, type InitOptions } from '../inventory/scaffold.js';
import type { CliIO } from './io.js';

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
