/**
 * Desired state: bridged pod traffic goes through iptables (kube-proxy's service rules and the
 * bridge plugin's masquerading depend on it): bridge netfilter present now and at every boot
 * (br_netfilter in /etc/modules-load.d/), and net.bridge.bridge-nf-call-ip{,6}tables = 1 now and
 * in /etc/sysctl.d/. "Present" is /proc/sys/net/bridge existing, so a kernel with it built in
 * (or a container whose host loaded it) needs no modprobe; a value that already matches is never
 * written, so hosts with a read-only /proc/sys converge too.
 */
import { applyFile, checkFile, probeRun, statOf, type FileChange } from '../../engine/tasks/index.js';
import type { Change } from '../../engine/contract.js';
import type { ClusterTask } from '../../cluster/run.js';

export const MODULES_LOAD_FILE = '/etc/modules-load.d/kprov-br_netfilter.conf';
export const BRIDGE_SYSCTL_FILE = '/etc/sysctl.d/99-kprov-bridge-nf.conf';
const KEYS = ['net.bridge.bridge-nf-call-ip6tables', 'net.bridge.bridge-nf-call-iptables'] as const;
const BRIDGE_PROC = '/proc/sys/net/bridge';
const readKeys = { argv: ['sysctl', '-n', ...KEYS] };

const moduleFile = { path: MODULES_LOAD_FILE, content: Buffer.from('br_netfilter\n'), mode: 0o644 };
const sysctlFile = {
  path: BRIDGE_SYSCTL_FILE,
  content: Buffer.from(`# Managed by kprov\n${KEYS.map((k) => `${k} = 1`).join('\n')}\n`),
  mode: 0o644,
};

export interface BridgeNetfilterChange extends Change {
  kind: 'file' | 'module' | 'sysctl';
  key?: string;
}

export function bridgeNetfilter(): ClusterTask<BridgeNetfilterChange> {
  return {
    name: 'bridge netfilter (br_netfilter, bridge-nf-call-iptables = 1)',
    // The keys are read ahead even where bridge netfilter is missing: that answer is simply unused.
    reads: () => ({ paths: [MODULES_LOAD_FILE, BRIDGE_SYSCTL_FILE, BRIDGE_PROC], commands: [readKeys] }),
    async check(host, ctx) {
      const changes: BridgeNetfilterChange[] = [
        ...(await checkFile(host, moduleFile, moduleFile.content, ctx)),
        ...(await checkFile(host, sysctlFile, sysctlFile.content, ctx)),
      ];
      const present = (await statOf(host, BRIDGE_PROC, ctx))?.type === 'directory';
      if (!present) {
        changes.push({ kind: 'module', summary: 'load kernel module br_netfilter' });
        for (const key of KEYS) changes.push({ kind: 'sysctl', key, summary: `set ${key} = 1 (once br_netfilter is loaded)` });
        return changes;
      }
      const values = (await probeRun(host, readKeys, ctx)).stdout.split('\n').map((v) => v.trim());
      KEYS.forEach((key, i) => {
        if (values[i] !== '1') changes.push({ kind: 'sysctl', key, summary: `set ${key} = 1 (now ${values[i] || 'unset'})` });
      });
      return changes;
    },
    async apply(host, changes) {
      const files = changes.filter((c): c is BridgeNetfilterChange & FileChange => c.kind === 'file');
      for (const spec of [moduleFile, sysctlFile]) {
        const own = files.filter((c) => c.path === spec.path);
        if (own.length > 0) await applyFile(host, spec, spec.content, own);
      }
      if (changes.some((c) => c.kind === 'module')) await host.run(['modprobe', '--', 'br_netfilter']);
      const keys = changes.flatMap((c) => (c.kind === 'sysctl' && c.key ? [`${c.key}=1`] : []));
      if (keys.length > 0) await host.run(['sysctl', '-w', ...keys]);
    },
  };
}
