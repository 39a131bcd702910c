/**
 * The `reset` role (playbooks/reset.yml, `kprov apply reset`): undoes `apply cluster` on a host.
 * Its play says `confirm: reset_confirmation`, so the run asks first. Three steps, each a probe
 * (what is still there: the plan's view, and why a second reset changes nothing) and a removal:
 *   1. stop kprov's services, kill the pods' containers, remove their mounts, network
 *      namespaces, the cni0 bridge, kprov's pod routes and the KUBE-/CNI- iptables chains;
 *   2. remove every file and directory the cluster roles write (footprint.ts);
 *   3. with reset_remove_ssh_key (--remove-ssh-key) only: the cluster key from authorized_keys.
 * What kprov keeps on the control host (the inventory's pki/, credentials/, artifacts/) stays:
 * a later `apply cluster` builds the same cluster again with the same certificates.
 */
import type { Change } from '../../engine/contract.js';
import { KprovError } from '../../errors.js';
import type { ClusterRole, ClusterTask } from '../../cluster/run.js';
import { loadClusterKey } from '../../ssh/cluster-key.js';
import { shScript } from '../../ssh/quote.js';
import { SshRemoteHost } from '../../ssh/remote-host.js';
import type { RemoteHost } from '../../ssh/types.js';
import { ROUTE_PROTO } from '../cni/pod-routes.js';
import { footprint, MOUNT_ROOTS, RESET_UNITS, writtenFiles } from './footprint.js';
import { FILES_SCRIPT, SSH_KEY_SCRIPT, STOP_SCRIPT } from './scripts.js';

const STEP_TIMEOUT_MS = 120_000;

/** The probe's lines as changes: one per thing still on the host. */
async function probeLines(host: RemoteHost, argv: string[], asLoginUser = false): Promise<string[]> {
  const r = await host.exec(argv, { timeoutMs: STEP_TIMEOUT_MS, ...(asLoginUser ? { asLoginUser } : {}) });
  if (r.code !== 0) throw new KprovError('host', `looking for what to reset failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').at(-1) ?? ''}`, { host: host.name });
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

const asChanges = (lines: readonly string[], verb: string): Change[] => lines.map((l) => ({ kind: 'custom', summary: `${verb} ${l}` }));

function scriptStep(name: string, argvFor: (mode: 'probe' | 'remove') => string[], verb: string): ClusterTask {
  return {
    name,
    async check(host) {
      return asChanges(await probeLines(host, argvFor('probe')), verb);
    },
    async apply(host) {
      await host.run(argvFor('remove'), { timeoutMs: STEP_TIMEOUT_MS });
    },
  };
}

const stopStep = scriptStep('stop kprov\'s services and remove their pods and pod network', (mode) => shScript(STOP_SCRIPT, [mode, String(ROUTE_PROTO), MOUNT_ROOTS.join(':'), ...RESET_UNITS], 'kprov-reset'), 'remove');

function filesStep(paths: readonly string[], written: readonly string[]): ClusterTask {
  return scriptStep('remove kprov\'s files (units, binaries, configs, certificates, data)', (mode) => shScript(FILES_SCRIPT, [mode, ...paths, '--written-by-kprov', ...written], 'kprov-reset'), 'remove');
}

const sshKeyStep: ClusterTask = {
  name: 'remove the cluster SSH key from authorized_keys',
  async check(host, ctx) {
    if (!(host instanceof SshRemoteHost)) return [];
    const key = await loadClusterKey(ctx.inventory.dir, host.config.keyType);
    if (!key) return [];
    return asChanges(await probeLines(host, shScript(SSH_KEY_SCRIPT, ['probe', key.publicKeyBody]), true), 'remove');
  },
  async apply(host, _changes, ctx) {
    if (!(host instanceof SshRemoteHost)) return;
    const key = await loadClusterKey(ctx.inventory.dir, host.config.keyType);
    if (key) await host.run(shScript(SSH_KEY_SCRIPT, ['remove', key.publicKeyBody]), { asLoginUser: true });
  },
};

export const resetRole: ClusterRole = {
  name: 'reset',
  tags: ['reset'],
  tasks(ctx) {
    const vars = ctx.run.inventory.hostVars(ctx.host.name);
    return [stopStep, filesStep(footprint(vars), writtenFiles(vars)), ...(vars.reset_remove_ssh_key ? [sshKeyStep] : [])];
  },
};
