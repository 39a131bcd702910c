/**
 * Restoring every etcd member from one snapshot, as etcd's disaster-recovery guide does it: the
 * API servers stop first (nothing writes while etcd is replaced), every member stops, each
 * member's data directory is set aside and rebuilt from the snapshot as a member of a new cluster
 * (a new cluster token, so no member of the old cluster can talk to it), every member starts and
 * must serve quorum reads, then the API servers start and must answer /healthz.
 * Nothing changes on any host until the snapshot's sha256 is right and every host is reachable.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { KprovError } from '../../errors.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { EtcdMember, Topology } from '../../cluster/topology.js';
import { ETCD_UNIT } from './config.js';
import { etcdctlArgv, type Etcdctl } from './etcdctl.js';

const ENV = { ETCDCTL_API: '3' };
const REMOTE_SNAPSHOT = '/var/lib/kprov/restore/snapshot.db';
const APISERVER_UNIT = 'kube-apiserver.service';
const HEALTH_TIMEOUT_MS = 120_000;

export interface RestoreMember {
  member: EtcdMember;
  host: RemoteHost;
  etcdctl: Etcdctl;
}

export interface RestoreTargets {
  topology: Topology;
  members: readonly RestoreMember[];
  /** The control-plane hosts, whose API servers stop during the restore. */
  apiservers: readonly { host: RemoteHost; kubectl: { bin: string; kubeconfig: string } }[];
  /** A line of progress for the user. */
  say(line: string): void;
  now?: Date;
}

async function until(what: string, host: string, check: () => Promise<boolean>, timeoutMs = HEALTH_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new KprovError('host', `${what} within ${timeoutMs / 1000} s`, { host });
}

/** Restores every member of `targets` from the local snapshot `file`, whose sha256 must be `sha256`. */
export async function restoreEtcd(file: string, sha256: string, targets: RestoreTargets): Promise<void> {
  const data = await readFile(file);
  const actual = createHash('sha256').update(data).digest('hex');
  if (actual !== sha256) throw new KprovError('usage', `${file} is not the snapshot that was saved: sha256 ${actual}, recorded ${sha256}`);
  const { topology, members, apiservers, say } = targets;
  const token = `kprov-restore-${(targets.now ?? new Date()).toISOString().replace(/[-:.]/g, '')}`;

  say(`copying the snapshot to ${members.map((m) => m.member.host.name).join(', ')}`);
  for (const m of members) await m.host.writeFile(REMOTE_SNAPSHOT, data, { mode: 0o600, owner: 'root', group: 'root' });

  say(`stopping kube-apiserver on ${apiservers.map((a) => a.host.name).join(', ')}, then etcd`);
  for (const a of apiservers) await a.host.run(['systemctl', 'stop', APISERVER_UNIT]);
  for (const m of members) await m.host.run(['systemctl', 'stop', ETCD_UNIT]);

  for (const m of members) {
    const dataDir = m.member.host.vars.etcd_data_dir;
    const aside = `${dataDir}.before-restore-${token.slice('kprov-restore-'.length)}`;
    say(`${m.member.host.name}: ${dataDir} set aside as ${aside}; rebuilding it from the snapshot`);
    await m.host.run(['sh', '-c', 'if [ -e "$1" ]; then mv -- "$1" "$2"; fi', 'kprov-restore', dataDir, aside]);
    await m.host.run(
      [
        m.etcdctl.bin,
        'snapshot',
        'restore',
        REMOTE_SNAPSHOT,
        `--name=${m.member.name}`,
        `--initial-cluster=${topology.etcdInitialCluster}`,
        `--initial-cluster-token=${token}`,
        `--initial-advertise-peer-urls=${m.member.peerUrl}`,
        `--data-dir=${dataDir}`,
      ],
      { env: ENV, timeoutMs: 300_000 },
    );
    await m.host.run(['chmod', '0700', dataDir]);
  }

  say('starting etcd on every member (a new cluster needs its quorum before any member is ready)');
  for (const m of members) await m.host.run(['systemctl', 'start', '--no-block', ETCD_UNIT]);
  for (const m of members) {
    await until('etcd did not become healthy', m.member.host.name, async () => {
      const r = await m.host.exec(etcdctlArgv(m.etcdctl, ['https://127.0.0.1:2379'], ['endpoint', 'health']), { env: ENV, timeoutMs: 15_000 });
      return r.code === 0;
    });
  }
  for (const m of members) await m.host.exec(['rm', '-f', '--', REMOTE_SNAPSHOT]);

  say('starting kube-apiserver');
  for (const a of apiservers) {
    await a.host.run(['systemctl', 'start', APISERVER_UNIT]);
    await until('kube-apiserver did not answer /healthz', a.host.name, async () => {
      const r = await a.host.exec([a.kubectl.bin, `--kubeconfig=${a.kubectl.kubeconfig}`, '--request-timeout=5s', 'get', '--raw=/healthz'], { timeoutMs: 15_000 });
      return r.code === 0 && r.stdout.trim() === 'ok';
    });
  }
}
