/**
 * etcdctl on an etcd host, over TLS with the health-check client certificate: endpoint health
 * (the readiness probe of a member) and member list/add (how a host learns whether it joins an
 * existing cluster). The v3 API is selected explicitly, as etcdctl 3.2/3.3 default to v2.
 */
import { z } from 'zod';
import type { RemoteHost } from '../../ssh/types.js';
import type { ProbeCommand } from '../../engine/contract.js';
import type { EtcdTlsFiles } from './config.js';

export interface Etcdctl {
  /** Absolute path of etcdctl on the host. */
  bin: string;
  tls: EtcdTlsFiles;
}

const ENV = { ETCDCTL_API: '3' } as const;

/** etcdctl keeps retrying an endpoint that refuses connections until --command-timeout. */
export function etcdctlArgv(ctl: Etcdctl, endpoints: readonly string[], args: readonly string[], commandTimeout = '5s'): string[] {
  return [
    ctl.bin,
    `--endpoints=${endpoints.join(',')}`,
    `--cacert=${ctl.tls.ca}`,
    `--cert=${ctl.tls.clientCert}`,
    `--key=${ctl.tls.clientKey}`,
    '--dial-timeout=2s',
    `--command-timeout=${commandTimeout}`,
    ...args,
  ];
}

/** Whether the member on this host serves a quorum read: `etcdctl endpoint health` exits 0. */
export function localMemberHealth(ctl: Etcdctl): ProbeCommand {
  return { argv: etcdctlArgv(ctl, ['https://127.0.0.1:2379'], ['endpoint', 'health']), env: ENV, timeoutMs: 15_000 };
}

/** A member as `member list` reports it; an added member that never started has no name yet. */
export interface ListedMember {
  name: string;
  peerUrls: string[];
  clientUrls: string[];
}

// Member IDs are 64-bit and lose precision as JS numbers: they are not read.
const memberListSchema = z.object({
  members: z
    .array(
      z.object({
        name: z.string().optional(),
        peerURLs: z.array(z.string()).optional(),
        clientURLs: z.array(z.string()).optional(),
      }),
    )
    .default([]),
});

/**
 * The members as the first answering endpoint lists them, or undefined when none answers (no
 * cluster is running there yet).
 */
export async function listMembers(host: RemoteHost, ctl: Etcdctl, endpoints: readonly string[]): Promise<ListedMember[] | undefined> {
  if (endpoints.length === 0) return undefined;
  // A short bound: on a new cluster nobody listens yet, and every member asks once.
  const r = await host.exec(etcdctlArgv(ctl, endpoints, ['member', 'list', '--write-out=json'], '2s'), { env: ENV, timeoutMs: 20_000 });
  if (r.code !== 0) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
  const parsed = memberListSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  return parsed.data.members.map((m) => ({ name: m.name ?? '', peerUrls: m.peerURLs ?? [], clientUrls: m.clientURLs ?? [] }));
}

/** Adds a member to the running cluster (it joins when it starts with state `existing`). */
export async function addMember(host: RemoteHost, ctl: Etcdctl, endpoints: readonly string[], name: string, peerUrl: string): Promise<void> {
  await host.run(etcdctlArgv(ctl, endpoints, ['member', 'add', name, `--peer-urls=${peerUrl}`]), { env: ENV, timeoutMs: 30_000 });
}
