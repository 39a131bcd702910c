/**
 * `kprov inventory show` and `kprov inventory check`: load an inventory and print its model, or
 * validate it and print its warnings.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { formatError, formatLocation, isKprovError, KprovError, KprovErrorList, type SourceLocation } from '../errors.js';
import { loadInventory, type Inventory } from '../inventory/load.js';
import { GROUP, type InventoryWarning } from '../inventory/model.js';
import type { CliIO } from './io.js';
import { displayPath, resolveInventoryDir } from './resolve-inventory.js';

interface ShowOptions {
  inventory?: string;
  json?: boolean;
}

interface CheckOptions {
  inventory?: string;
  strict?: boolean;
}

function relativeLocation(loc: SourceLocation, cwd: string): SourceLocation {
  return { ...loc, file: displayPath(loc.file, cwd) };
}

/** Loads the inventory; errors name files relative to the working directory, as users typed them. */
async function load(option: string | undefined, io: CliIO, strict: boolean): Promise<Inventory> {
  const target = await resolveInventoryDir(option, io);
  try {
    return await loadInventory(target, { strict });
  } catch (err) {
    // A list's errors are each shown relative to the working directory by formatError.
    if (isKprovError(err) && err.location && !(err instanceof KprovErrorList)) {
      throw new KprovError(err.code, err.message, {
        location: relativeLocation(err.location, io.cwd),
        ...(err.host === undefined ? {} : { host: err.host }),
        ...(err.hint === undefined ? {} : { hint: err.hint }),
        exitCode: err.exitCode,
        cause: err,
      });
    }
    throw err;
  }
}

function formatWarning(w: InventoryWarning, cwd: string): string {
  const where = w.location ? `${formatLocation(relativeLocation(w.location, cwd))}: ` : '';
  return `warning: ${where}${w.message}`;
}

/** The JSON shape of `inventory show --json` (documented in docs/inventory.md). */
export function inventoryJson(inv: Inventory): object {
  return {
    hosts: inv.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      ip: h.ip ?? null,
      access_ip: h.accessIp ?? null,
      groups: h.groups,
      vars: h.vars,
    })),
    groups: inv.groups,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

function humanShow(inv: Inventory, io: CliIO): string {
  const rows = [['HOST', 'ADDRESS', 'IP', 'ACCESS_IP', 'GROUPS']];
  for (const h of inv.hosts) {
    const groups = h.groups.filter((g) => g !== GROUP.all && g !== GROUP.ungrouped);
    rows.push([h.name, h.address, h.ip ?? '-', h.accessIp ?? '-', groups.join(', ') || '(ungrouped)']);
  }
  const c = inv.cluster;
  const lines = [
    `inventory ${displayPath(inv.source, io.cwd)}`,
    '',
    table(rows),
    '',
    `Kubernetes ${c.kube_version}, etcd ${c.etcd_version}, containerd ${c.containerd_version}, kube-proxy ${c.kube_proxy_mode}`,
    `services ${c.kube_service_addresses} (API ${c.kube_apiserver_ip}:${c.kube_apiserver_port}, DNS ${c.kube_dns_server}), pods ${c.kube_pods_subnet} (/${c.kube_network_node_prefix} per node), domain ${c.dns_domain}`,
  ];
  return lines.join('\n');
}

function summary(inv: Inventory): string {
  const count = (g: string) => inv.groups[g]?.length ?? 0;
  const parts = [`${count(GROUP.controlPlane)} kube_control_plane`, `${count(GROUP.etcd)} etcd`, `${count(GROUP.node)} kube_node`];
  const warnings = inv.warnings.length === 0 ? '' : `, ${inv.warnings.length} warning${inv.warnings.length === 1 ? '' : 's'}`;
  return `inventory OK: ${inv.hosts.length} host${inv.hosts.length === 1 ? '' : 's'} (${parts.join(', ')}), Kubernetes ${inv.cluster.kube_version}${warnings}`;
}

export function registerInventory(program: Command, io: CliIO): void {
  const inventory = program
    .command('inventory')
    .description('show or check an inventory (Kubespray layout: inventory.ini, group_vars/, host_vars/)');

  inventory
    .command('show')
    .description('print the hosts, their addresses and groups, or with --json the whole model')
    .option('-i, --inventory <dir>', 'inventory directory (default: $KPROV_INVENTORY, else the one under ./inventory)')
    .option('--json', 'print one JSON object: {hosts:[{name,address,ip,access_ip,groups,vars}], groups:{…}}')
    .action(async (options: ShowOptions) => {
      const inv = await load(options.inventory, io, false);
      if (options.json) {
        io.out(JSON.stringify(inventoryJson(inv), null, 2));
        return;
      }
      io.out(humanShow(inv, io));
      if (inv.warnings.length > 0) {
        io.err(`${inv.warnings.length} warning${inv.warnings.length === 1 ? '' : 's'}; see them with: kprov inventory check -i ${displayPath(inv.dir, io.cwd)}`);
      }
    });

  inventory
    .command('check')
    .description('validate an inventory: syntax, variables, and the cluster it describes')
    .option('-i, --inventory <dir>', 'inventory directory (default: $KPROV_INVENTORY, else the one under ./inventory)')
    .option('--strict', 'treat variables kprov does not use as errors')
    .addHelpText('after', `\nExit status: 0 when the inventory is valid (warnings go to stderr), 2 on any error.\nSee ${path.join('docs', 'inventory.md')} for what is supported.`)
    .action(async (options: CheckOptions) => {
      const inv = await load(options.inventory, io, options.strict === true);
      // Loaded here only: it brings the SSH library, which `inventory show` does not need.
      const { checkKeyFiles } = await import('../ssh/key-files.js');
      const keys = await checkKeyFiles(inv);
      for (const w of [...inv.warnings, ...keys.warnings]) io.err(formatWarning(w, io.cwd));
      // Every key file problem at once; the last one is the command's error (exit 2).
      const last = keys.errors.at(-1);
      if (last) {
        for (const e of keys.errors.slice(0, -1)) io.err(formatError(e, io.cwd));
        throw last;
      }
      io.out(summary({ ...inv, warnings: [...inv.warnings, ...keys.warnings] }));
    });
}
