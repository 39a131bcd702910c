/** The node-local API proxy: when the topology has one, and what it renders on a worker. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import { renderApiProxy } from '../../../src/roles/node/api-proxy.js';
import { loadCluster } from './node-cluster.js';

const render = createTemplateRenderer();

/** node1–3 control plane + etcd, node4 and node5 workers (the lab's 5-host layout). */
const FIVE = `[all]
${[1, 2, 3, 4, 5].map((i) => `node${i} ansible_host=10.0.0.1${i} ip=10.0.0.1${i}`).join('\n')}

[kube_control_plane]
node1
node2
node3

[etcd]
node1
node2
node3

[kube_node]
node4
node5

[k8s_cluster:children]
kube_control_plane
kube_node
`;

async function proxyOn(host: string, vars: Record<string, unknown> = {}, ini = FIVE) {
  const c = await loadCluster(ini, vars);
  const run = c.run();
  const h = run.topology.hosts.find((x) => x.name === host)!;
  return { topology: run.topology, rendered: renderApiProxy({ render, run }, h, '/etc/kubernetes/manifests') };
}

interface PodManifest {
  metadata: { name: string; namespace: string; annotations: Record<string, string> };
  spec: {
    hostNetwork: boolean;
    priorityClassName: string;
    containers: { image: string; livenessProbe: { httpGet: { host: string; port: number } }; volumeMounts: { mountPath: string }[] }[];
    volumes: { hostPath: { path: string } }[];
  };
}

test('several control-plane hosts and no loadbalancer_apiserver: an nginx proxy on each worker, to every API server', async () => {
  const { topology, rendered } = await proxyOn('node4');
  assert.deepEqual(topology.apiProxy, { type: 'nginx', port: 6443, healthPort: 8081 });
  assert.ok(rendered);
  assert.equal(rendered.configPath, '/etc/nginx/nginx.conf');
  assert.equal(rendered.manifestPath, '/etc/kubernetes/manifests/nginx-proxy.yml');
  for (const ip of ['10.0.0.11', '10.0.0.12', '10.0.0.13']) assert.match(rendered.config, new RegExp(`server ${ip.replace(/\./g, '\\.')}:6443 max_fails=1 fail_timeout=10s;`));
  assert.match(rendered.config, /listen 127\.0\.0\.1:6443 reuseport;/);
  assert.match(rendered.config, /listen 127\.0\.0\.1:8081 reuseport;/);
  const pod = parseYaml(rendered.manifest) as PodManifest;
  assert.equal(pod.metadata.name, 'nginx-proxy');
  assert.equal(pod.metadata.namespace, 'kube-system');
  assert.equal(pod.spec.hostNetwork, true);
  assert.equal(pod.spec.priorityClassName, 'system-node-critical');
  assert.equal(pod.spec.containers[0]!.image, 'docker.io/library/nginx:1.15');
  assert.deepEqual(pod.spec.containers[0]!.livenessProbe.httpGet, { host: '127.0.0.1', path: '/healthz', port: 8081 });
  assert.equal(pod.spec.containers[0]!.volumeMounts[0]!.mountPath, '/etc/nginx');
  assert.equal(pod.spec.volumes[0]!.hostPath.path, '/etc/nginx');
  // A changed configuration is a changed manifest: the kubelet replaces the pod.
  assert.equal(pod.metadata.annotations['kprov/config-sha256'], createHash('sha256').update(rendered.config).digest('hex'));
});

test('control-plane hosts run no proxy (they reach their own API server)', async () => {
  assert.equal((await proxyOn('node1')).rendered, undefined);
});

test('no proxy with one control-plane host, with loadbalancer_apiserver, or with loadbalancer_apiserver_localhost false', async () => {
  const one = FIVE.replace('node1\nnode2\nnode3\n\n[etcd]', 'node1\n\n[etcd]');
  assert.equal((await proxyOn('node4', {}, one)).topology.apiProxy, undefined);
  assert.equal((await proxyOn('node4', { loadbalancer_apiserver: { address: '10.0.0.100', port: 8443 } })).topology.apiProxy, undefined);
  assert.equal((await proxyOn('node4', { loadbalancer_apiserver_localhost: false })).topology.apiProxy, undefined);
});

test("haproxy, and Kubespray v2.9's nginx_kube_apiserver_port", async () => {
  const { rendered } = await proxyOn('node5', { loadbalancer_apiserver_type: 'haproxy', nginx_kube_apiserver_port: 7443, haproxy_image_tag: '1.9.7' });
  assert.ok(rendered);
  assert.equal(rendered.configPath, '/etc/haproxy/haproxy.cfg');
  assert.match(rendered.config, /bind 127\.0\.0\.1:7443/);
  assert.match(rendered.config, /server node2 10\.0\.0\.12:6443 check check-ssl verify none/);
  const pod = parseYaml(rendered.manifest) as PodManifest;
  assert.equal(pod.metadata.name, 'haproxy');
  assert.equal(pod.spec.containers[0]!.image, 'docker.io/library/haproxy:1.9.7');
  assert.equal(pod.spec.containers[0]!.volumeMounts[0]!.mountPath, '/usr/local/etc/haproxy');
});
