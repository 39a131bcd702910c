/**
 * `kprov etcdctl [-i DIR] [--host NAME] -- ARGS…`: the real etcdctl of an etcd member, run there
 * with the v3 API, the member's local endpoint and the health-check client certificate, so
 * `kprov etcdctl -- get / --prefix --keys-only` lists what Kubernetes stores (as kubeadm users
 * do with `kubectl exec etcd-master … etcdctl`). Output and exit status are etcdctl's own.
 */
import type { Command } from 'commander';
import { KprovError } from '../errors.js';
import { etcdctlArgv } from '../roles/etcd/etcdctl.js';
import { withEtcdMembers } from './etcd-members.js';
import { runInLabIfNeeded } from './lab-reexec.js';
import { setExitCode } from './exit-code.js';
import type { CliIO } from './io.js';
import { resolveInventoryDir } from './resolve-inventory.js';

export interface EtcdctlOptions {
  inventory?: string;
  host?: string;
}

/** Runs etcdctl on a member (the first that connects, or `--host`) and returns its exit status. */
export async function runEtcdctl(args: readonly string[], options: EtcdctlOptions, io: CliIO): Promise<number> {
  const dir = await resolveInventoryDir(options.inventory, io);
  const elsewhere = await runInLabIfNeeded(dir, ['etcdctl', '-i', dir, ...(options.host ? ['--host', options.host] : []), '--', ...args]);
  if (elsewhere !== undefined) return elsewhere;
  return withEtcdMembers(dir, options.host, io, async ([first], unreachable) => {
    if (!first) throw new KprovError('ssh', `no etcd member could be reached: ${unreachable.join('; ')}`);
    const r = await first.host.exec(etcdctlArgv(first.etcdctl, ['https://127.0.0.1:2379'], args, '30s'), { env: { ETCDCTL_API: '3' }, timeoutMs: 120_000 });
    if (r.stdout) io.out(r.stdout.replace(/\n$/, ''));
    if (r.stderr) io.err(r.stderr.replace(/\n$/, ''));
    return r.code;
  });
}

export function registerEtcdctl(program: Command, io: CliIO): void {
  program
    .command('etcdctl')
    .description("run the real etcdctl on an etcd member with the cluster's certificates (v3 API)")
    .option('-i, --inventory <dir>', 'inventory directory (default: $KPROV_INVENTORY, else the one under ./inventory)')
    .option('--host <name>', 'the etcd member to run it on (default: the first that answers)')
    .argument('<args...>', 'etcdctl arguments, after --: kprov etcdctl -- member list -w table')
    .addHelpText('after', '\nExamples:\n  kprov etcdctl -- endpoint health --cluster\n  kprov etcdctl -- get / --prefix --keys-only')
    .action(async (args: string[], options: EtcdctlOptions, cmd: Command) => {
      setExitCode(cmd, await runEtcdctl(args, options, io));
    });
}
