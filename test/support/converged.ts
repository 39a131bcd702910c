/**
 * What a fault test checks at its end: the cluster converged, seen with the real tools on the
 * hosts — every node Ready through kubectl with the admin kubeconfig, every etcd member healthy
 * through etcdctl with the health-check client certificate.
 */
import assert from 'node:assert/strict';
import type { RunningLab } from '../../dev/lab-hosts.js';

export const ETCD_TLS = ['--cacert=/etc/ssl/etcd/ssl/ca.crt', '--cert=/etc/ssl/etcd/ssl/healthcheck-client.crt', '--key=/etc/ssl/etcd/ssl/healthcheck-client.key'];
export const HOST_KUBECTL = ['/usr/local/bin/kubectl', '--kubeconfig=/etc/kubernetes/admin.conf'];

export async function assertNodesReadyAndEtcdHealthy(lab: RunningLab, opts: { nodes: readonly string[]; kubectlHost: string; etcdHost: string; etcdMembers: number }): Promise<void> {
  const nodes = await lab.exec(opts.kubectlHost, [...HOST_KUBECTL, 'get', 'nodes', '--no-headers'], { timeoutMs: 30_000 });
  assert.equal(nodes.code, 0, nodes.stderr);
  assert.deepEqual(nodes.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort(), [...opts.nodes].sort().map((h) => `${h} Ready`));
  const endpoints = `--endpoints=${lab.addresses.map((a) => `https://${a}:2379`).join(',')}`;
  const health = await lab.exec(opts.etcdHost, ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', ...ETCD_TLS, endpoints, 'endpoint', 'health'], { timeoutMs: 30_000 });
  assert.equal(health.code, 0, `${health.stdout}${health.stderr}`);
  assert.equal(`${health.stdout}${health.stderr}`.match(/is healthy/g)?.length, opts.etcdMembers);
}
