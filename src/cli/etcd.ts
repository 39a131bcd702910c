/**
 * `kprov etcd backup [-i DIR] [-o FILE]`: a snapshot from a healthy member into
 * `<inventory>/backups/` with its sha256 and the member list; `kprov etcd backup --list`: the
 * backups kept, each checked against its sha256.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { KprovError } from '../errors.js';
import { locateInventory } from '../inventory/load.js';
import { backupEtcd, listBackups } from '../roles/etcd/backup.js';
import { runInLabIfNeeded, withEtcdMembers } from './etcd-members.js';
import { setExitCode } from './exit-code.js';
import type { CliIO } from './io.js';
import { displayPath, resolveInventoryDir } from './resolve-inventory.js';

interface BackupOptions {
  inventory?: string;
  output?: string;
  list?: boolean;
}

export async function runEtcdBackup(options: BackupOptions, io: CliIO): Promise<number> {
  const { dir } = await locateInventory(await resolveInventoryDir(options.inventory, io));
  if (options.list) {
    const backups = await listBackups(dir);
    if (backups.length === 0) io.out(`no backups in ${displayPath(path.join(dir, 'backups'), io.cwd)}`);
    for (const b of backups) {
      io.out(`${displayPath(b.path, io.cwd)}  ${(b.bytes / 2 ** 20).toFixed(1)} MiB  ${b.takenAt}  from ${b.member}  members ${b.members.join(',')}  ${b.intact ? 'sha256 ok' : 'CORRUPT (sha256 differs or file missing)'}`);
    }
    return backups.every((b) => b.intact) ? 0 : 1;
  }
  const output = options.output === undefined ? undefined : path.resolve(io.cwd, options.output);
  const elsewhere = await runInLabIfNeeded(dir, ['etcd', 'backup', '-i', dir, ...(output ? ['-o', output] : [])]);
  if (elsewhere !== undefined) return elsewhere;
  const record = await withEtcdMembers(dir, undefined, io, async (members, unreachable) => {
    if (members.length === 0) throw new KprovError('ssh', `no etcd member could be reached: ${unreachable.join('; ')}`);
    return backupEtcd(dir, members, output ? { output } : {});
  });
  const file = output ?? path.join(dir, 'backups', record.file);
  io.out(`etcd snapshot from ${record.member}: ${displayPath(file, io.cwd)} (${(record.bytes / 2 ** 20).toFixed(1)} MiB, sha256 ${record.sha256})`);
  return 0;
}

export function registerEtcd(program: Command, io: CliIO): void {
  const etcd = program.command('etcd').description('etcd backups (snapshots of the cluster state)');
  etcd
    .command('backup')
    .description('take a snapshot from a healthy etcd member into <inventory>/backups/ (with its sha256 and the member list)')
    .option('-i, --inventory <dir>', 'inventory directory (default: $KPROV_INVENTORY, else the one under ./inventory)')
    .option('-o, --output <file>', 'write the snapshot here instead')
    .option('--list', 'list the backups kept, each checked against its sha256')
    .action(async (options: BackupOptions, cmd: Command) => {
      setExitCode(cmd, await runEtcdBackup(options, io));
    });
}
