/**
 * What an etcd member's files say: the environment file (Kubespray's /etc/etcd.env, ETCD_*
 * variables) and the systemd unit, rendered from templates/ and checked against etcd's flags.
 * Pure: everything comes from the member's topology entry and the PKI plan.
 */
import { renderEtcdEnv, renderUnit } from '../../cluster/flags.js';
import { pkiPaths } from '../../cluster/pki.js';
import type { EtcdMember } from '../../cluster/topology.js';
import type { CertSpec } from '../../pki/index.js';
import type { ClusterRenderContext } from '../../cluster/run.js';

export const ETCD_ENV_FILE = '/etc/etcd.env';
export const ETCD_UNIT = 'etcd.service';
export const ETCD_UNIT_FILE = `/etc/systemd/system/${ETCD_UNIT}`;
/** Kubespray's token: a cluster it bootstrapped and one kprov bootstraps agree on member IDs. */
export const ETCD_CLUSTER_TOKEN = 'k8s_etcd';
export const ENV_TEMPLATE = 'etcd/etcd.env.j2';
export const UNIT_TEMPLATE = 'etcd/etcd.service.j2';

/** The TLS files of one member on its host. */
export interface EtcdTlsFiles {
  ca: string;
  cert: string;
  key: string;
  peerCert: string;
  peerKey: string;
  /** The health-check client (CN kube-etcd-healthcheck-client) etcdctl uses. */
  clientCert: string;
  clientKey: string;
}

export function etcdTlsFiles(plan: readonly CertSpec[], host: string): EtcdTlsFiles {
  const p = pkiPaths(plan, host, ['etcd']);
  return {
    ca: p.file('etcd/ca', 'cert'),
    cert: p.file(`etcd/server-${host}`, 'cert'),
    key: p.file(`etcd/server-${host}`, 'key'),
    peerCert: p.file(`etcd/peer-${host}`, 'cert'),
    peerKey: p.file(`etcd/peer-${host}`, 'key'),
    clientCert: p.file('etcd/healthcheck-client', 'cert'),
    clientKey: p.file('etcd/healthcheck-client', 'key'),
  };
}

/** How this member bootstraps: `new` with every member, or `existing` to join a running cluster. */
export interface Bootstrap {
  state: 'new' | 'existing';
  /** `name=peerURL,…` */
  initialCluster: string;
}

const urlHost = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);

export function etcdEnvVars(member: EtcdMember, tls: EtcdTlsFiles, bootstrap: Bootstrap): Record<string, unknown> {
  const ip = urlHost(member.host.ip);
  return {
    name: member.name,
    data_dir: member.host.vars.etcd_data_dir,
    advertise_client_urls: member.clientUrl,
    initial_advertise_peer_urls: member.peerUrl,
    initial_cluster_state: bootstrap.state,
    initial_cluster: bootstrap.initialCluster,
    initial_cluster_token: ETCD_CLUSTER_TOKEN,
    listen_client_urls: `https://${ip}:2379,https://127.0.0.1:2379`,
    listen_peer_urls: `https://${ip}:2380`,
    tls,
  };
}

export function etcdUnitVars(member: EtcdMember): Record<string, unknown> {
  const vars = member.host.vars;
  return { name: member.name, etcd_version: vars.etcd_version, bin_dir: vars.bin_dir, env_file: ETCD_ENV_FILE };
}

/** The rendered, checked environment file and unit of one member. */
export function renderEtcdFiles(
  ctx: ClusterRenderContext,
  member: EtcdMember,
  tls: EtcdTlsFiles,
  bootstrap: Bootstrap,
): { env: string; unit: string } {
  return {
    env: renderEtcdEnv(ctx, ENV_TEMPLATE, etcdEnvVars(member, tls, bootstrap)),
    unit: renderUnit(ctx, UNIT_TEMPLATE, etcdUnitVars(member), 'etcd'),
  };
}
