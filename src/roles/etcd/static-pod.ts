/**
 * etcd as kubeadm v1.13's stacked static pod (etcd_deployment_type: static_pod): the member's
 * environment file (rendered and checked against etcd's flags as in host mode) becomes the pod's
 * command, ETCD_<FLAG>=value as --<flag>=value; the data directory and the certificates are host
 * paths; the liveness probe is kubeadm's etcdctl `get foo` with the health-check client. Pure.
 */
import type { EtcdMember } from '../../cluster/topology.js';
import type { ClusterRenderContext } from '../../cluster/run.js';
import { KprovError } from '../../errors.js';
import type { EtcdTlsFiles } from './config.js';

/** `ETCD_INITIAL_CLUSTER=a=https://…` → `--initial-cluster=a=https://…`; comments and blank lines skipped. */
export function flagsFromEnv(env: string): string[] {
  const flags: string[] = [];
  for (const line of env.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const m = /^ETCD_([A-Z0-9_]+)=(.*)$/.exec(t);
    if (!m) throw new KprovError('internal', `etcd env line is not ETCD_<FLAG>=value: ${t}`);
    flags.push(`--${m[1]!.toLowerCase().replace(/_/g, '-')}=${m[2]!}`);
  }
  return flags;
}

export const etcdImage = (m: EtcdMember) => `${m.host.vars.etcd_image_repo}:${m.host.vars.etcd_image_tag}`;

export function renderEtcdStaticPod(ctx: ClusterRenderContext, member: EtcdMember, env: string, tls: EtcdTlsFiles): string {
  const v = member.host.vars;
  return ctx.render('etcd/etcd-static-pod.yaml.j2', {
    command: ['etcd', ...flagsFromEnv(env)],
    image: etcdImage(member),
    probe: `ETCDCTL_API=3 etcdctl --endpoints=https://[127.0.0.1]:2379 --cacert=${tls.ca} --cert=${tls.clientCert} --key=${tls.clientKey} get foo`,
    data_dir: v.etcd_data_dir,
    cert_dir: v.etcd_cert_dir,
  });
}
