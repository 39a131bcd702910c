/**
 * `kprov etcdctl [-i DIR] [--host NAME] -- ARGS…`: the real etcdctl of an etcd member, run there
 * with the v3 API, the member's local endpoint and the health-check client certificate, so
 * `kprov etcdctl -- get / --prefix --keys-only` lists what Kubernetes stores (as kubeadm users
 * do with `kubectl exec etcd-master … etcdctl`). Output and exit status are etcdctl's own.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { buildTopology } from '../cluster/topology.js';
import { pkiPlanOf } from '../cluster/pki.js';
import { KprovError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import { assertInLabNamespaceIfLab, runInLabNamespaceIfNeeded } from '../lab/netns.js';
import { packageRoot } from '../paths.js';
import { etcdTlsFiles } from '../roles/etcd/config.js';
import { etcdctlArgv } from '../roles/etcd/etcdctl.js';
import { createConnector } from '../ssh/index.js';
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
  // A lab's hosts exist only inside its network namespace: run there.
  const elsewhere = await runInLabNamespaceIfNeeded(dir, ['etcdctl', '-i', dir, ...(options.host ? ['--host', options.host] : []), '--', ...args], path.join(packageRoot, 'bin', 'kprov.js'));
  if (elsewhere !== undefined) return elsewhere;
  const inventory = await loadInventory(dir);
  const topology = buildTopology(inventory);
  const members = options.host === undefined ? topology.etcd : topology.etcd.filter((m) => m.host.name === options.host);
  if (members.length === 0) {
    throw new KprovError('usage', options.host === undefined ? 'the inventory has no etcd host' : `${options.host} is not an etcd member of the inventory`, {
      hint: `etcd members: ${topology.etcd.map((m) => m.host.name).join(', ') || 'none'}`,
    });
  }
  const plan = pkiPlanOf(topology);
  const connector = createConnector(inventory, { networkGuard: assertInLabNamespaceIfLab, env: io.env });
  try {
    const failures: string[] = [];
    for (const member of members) {
      let host;
      try {
        host = await connector.connect(member.host.name);
      } catch (err) {
        failures.push(`${member.host.name}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      const ctl = { bin: `${member.host.vars.bin_dir}/etcdctl`, tls: etcdTlsFiles(plan, member.host.name) };
      const r = await host.exec(etcdctlArgv(ctl, ['https://127.0.0.1:2379'], args, '30s'), { env: { ETCDCTL_API: '3' }, timeoutMs: 120_000 });
      if (r.stdout) io.out(r.stdout.replace(/\n$/, ''));
      if (r.stderr) io.err(r.stderr.replace(/\n$/, ''));
      return r.code;
    }
    throw new KprovError('ssh', `no etcd member could be reached: ${failures.join('; ')}`);
  } finally {
    await connector.closeAll();
  }
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
