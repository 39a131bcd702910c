/**
 * `kprov etcd backup [-i DIR] [-o FILE]`: a snapshot from a healthy member into
 * `<inventory>/backups/` with its sha256 and the member list; `kprov etcd backup --list`: the
 * backups kept, each checked against its sha256. `kprov etcd restore FILE`: every member rebuilt
 * from the snapshot, the API servers stopped meanwhile (roles/etcd/restore.ts).
 */
import type { Command } from 'commander';
import path from 'node:path';
import { KprovError } from '../errors.js';
import { locateInventory } from '../inventory/load.js';
import { readFile } from 'node:fs/promises';
import { pkiPlanOf } from '../cluster/pki.js';
import { controlPlaneFiles } from '../roles/control-plane/units.js';
import { backupEtcd, listBackups } from '../roles/etcd/backup.js';
import { restoreEtcd } from '../roles/etcd/restore.js';
import { withCluster, withEtcdMembers } from './etcd-members.js';
import { runInLabIfNeeded } from './lab-reexec.js';
import { setExitCode } from './exit-code.js';
import type { CliIO } from './io.js';
import { displayPath, resolveInventoryDir } from './resolve-inventory.js';
import { askYesNo } from './ask-yes-no.js';

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

interface RestoreOptions {
  inventory?: string;
  yes?: boolean;
}

/** The sha256 recorded beside a snapshot (`FILE.sha256`, as `kprov etcd backup` writes it). */
async function recordedSha256(file: string): Promise<string> {
  const text = await readFile(`${file}.sha256`, 'utf8').catch(() => undefined);
  const sum = text?.trim().split(/\s+/)[0];
  if (!sum || !/^[0-9a-f]{64}$/.test(sum)) {
    throw new KprovError('usage', `no recorded sha256 beside ${file} (expected ${path.basename(file)}.sha256, as kprov etcd backup writes it)`);
  }
  return sum;
}

async function confirmed(question: string, options: RestoreOptions): Promise<boolean> {
  if (options.yes) return true;
  if (!process.stdin.isTTY) throw new KprovError('usage', `${question}: pass --yes to confirm (there is no terminal to ask)`);
  return askYesNo(question);
}

export async function runEtcdRestore(file: string, options: RestoreOptions, io: CliIO): Promise<number> {
  const { dir } = await locateInventory(await resolveInventoryDir(options.inventory, io));
  const snapshot = path.resolve(io.cwd, file);
  const sha256 = await recordedSha256(snapshot);
  const elsewhere = await runInLabIfNeeded(dir, ['etcd', 'restore', snapshot, '-i', dir, ...(options.yes ? ['--yes'] : [])]);
  if (elsewhere !== undefined) return elsewhere;
  return withCluster(dir, io, async (cluster) => {
    const modes = cluster.topology.vars;
    if (modes.etcd_deployment_type === 'static_pod' || modes.control_plane_deployment_type === 'static_pod') {
      // The restore stops and starts systemd units; static pods would need their manifests moved.
      throw new KprovError('usage', 'kprov etcd restore works on etcd and API servers run as systemd units; this cluster runs them as static pods', {
        hint: 'switch to etcd_deployment_type: host and control_plane_deployment_type: host with kprov apply cluster, restore, then switch back',
      });
    }
    const { members, unreachable } = await cluster.etcdMembers();
    if (unreachable.length > 0) throw new KprovError('ssh', `every etcd member must be reachable to restore; not: ${unreachable.join('; ')}`);
    const question = `restore ${displayPath(snapshot, io.cwd)} onto etcd on ${members.map((m) => m.member.host.name).join(', ')}, replacing the cluster's current state`;
    if (!(await confirmed(question, options))) {
      io.err('not restored');
      return 2;
    }
    const plan = pkiPlanOf(cluster.topology);
    const apiservers = await Promise.all(
      cluster.topology.controlPlane.map(async (h) => ({
        host: await cluster.connect(h.name),
        kubectl: { bin: `${h.vars.bin_dir}/kubectl`, kubeconfig: controlPlaneFiles(plan, h.name).adminConf },
      })),
    );
    await restoreEtcd(snapshot, sha256, { topology: cluster.topology, members, apiservers, say: (line) => io.out(line) });
    io.out(`restored etcd from ${displayPath(snapshot, io.cwd)}; the API servers answer again`);
    return 0;
  });
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
  etcd
    .command('restore')
    .description('restore every etcd member from a snapshot (kprov etcd backup), API servers stopped meanwhile')
    .argument('<file>', 'the snapshot, with its .sha256 beside it')
    .option('-i, --inventory <dir>', 'inventory directory (default: $KPROV_INVENTORY, else the one under ./inventory)')
    .option('--yes', 'do not ask for confirmation')
    .addHelpText('after', "\nEach member's data directory is kept beside the new one as <etcd_data_dir>.before-restore-<time>.")
    .action(async (file: string, options: RestoreOptions, cmd: Command) => {
      setExitCode(cmd, await runEtcdRestore(file, options, io));
    });
}
