/** control_plane_deployment_type: static_pod — kubeadm v1.13's manifests from the units' own flags. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { execStartLines, splitCommandLine } from '../../../src/cluster/flags.js';
import { pkiPlanOf } from '../../../src/cluster/pki.js';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import { renderStaticPod, volumesOf } from '../../../src/roles/control-plane/static-pods.js';
import { pullManifest } from '../../../src/cluster/image-prepull.js';
import { CONTROL_PLANE_COMPONENTS, renderControlPlaneUnits } from '../../../src/roles/control-plane/units.js';
import { loadCluster } from './node-cluster.js';

const render = createTemplateRenderer();

interface StaticPod {
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: {
    hostNetwork: boolean;
    priorityClassName: string;
    containers: {
      command: string[];
      image: string;
      livenessProbe: { httpGet: { host: string; port: number; scheme: string; path: string }; failureThreshold: number; initialDelaySeconds: number; timeoutSeconds: number };
      resources: { requests: { cpu: string } };
      volumeMounts: { name: string; mountPath: string; readOnly: boolean }[];
    }[];
    volumes: { name: string; hostPath: { path: string; type: string } }[];
  };
}

async function pods(vars: Record<string, unknown> = {}) {
  const c = await loadCluster(undefined, { control_plane_deployment_type: 'static_pod', ...vars });
  const run = c.run();
  const host = run.topology.controlPlane[0]!;
  const units = renderControlPlaneUnits({ render, run }, run.topology, host, pkiPlanOf(run.topology));
  const out = Object.fromEntries(CONTROL_PLANE_COMPONENTS.map((comp) => [comp, parseYaml(renderStaticPod({ render, run }, host, comp, units[comp])) as StaticPod])) as Record<(typeof CONTROL_PLANE_COMPONENTS)[number], StaticPod>;
  return { units, pods: out };
}

test("each manifest runs exactly its unit's command line, with kubeadm v1.13's image, labels, probe and request", async () => {
  const { units, pods: p } = await pods({ kube_image_repo: 'registry.local:5000/k8s' });
  for (const comp of CONTROL_PLANE_COMPONENTS) {
    const pod = p[comp];
    const [program, ...flags] = splitCommandLine(execStartLines(units[comp])[0]!);
    assert.equal(program, `/usr/local/bin/${comp}`);
    assert.deepEqual(pod.spec.containers[0]!.command, [comp, ...flags], `${comp}: one source of flags`);
    assert.equal(pod.metadata.name, comp);
    assert.equal(pod.metadata.namespace, 'kube-system');
    assert.deepEqual(pod.metadata.labels, { component: comp, tier: 'control-plane' });
    assert.equal(pod.metadata.annotations['scheduler.alpha.kubernetes.io/critical-pod'], '');
    assert.equal(pod.spec.hostNetwork, true);
    assert.equal(pod.spec.priorityClassName, 'system-cluster-critical');
    assert.equal(pod.spec.containers[0]!.image, `registry.local:5000/k8s/${comp}:v1.13.5`);
    const probe = pod.spec.containers[0]!.livenessProbe;
    assert.deepEqual([probe.failureThreshold, probe.initialDelaySeconds, probe.timeoutSeconds], [8, 15, 15]);
  }
  assert.deepEqual(p['kube-apiserver'].spec.containers[0]!.livenessProbe.httpGet, { host: '10.0.0.11', path: '/healthz', port: 6443, scheme: 'HTTPS' });
  assert.deepEqual(p['kube-controller-manager'].spec.containers[0]!.livenessProbe.httpGet, { host: '127.0.0.1', path: '/healthz', port: 10252, scheme: 'HTTP' });
  assert.deepEqual(p['kube-scheduler'].spec.containers[0]!.livenessProbe.httpGet, { host: '127.0.0.1', path: '/healthz', port: 10251, scheme: 'HTTP' });
  assert.deepEqual(CONTROL_PLANE_COMPONENTS.map((comp) => p[comp].spec.containers[0]!.resources.requests.cpu), ['250m', '200m', '100m']);
});

test('every file a flag names is on a host path the pod mounts, read-only', async () => {
  const { pods: p } = await pods();
  for (const comp of CONTROL_PLANE_COMPONENTS) {
    const pod = p[comp];
    const mounts = pod.spec.containers[0]!.volumeMounts;
    assert.deepEqual(mounts.map((m) => m.name).sort(), pod.spec.volumes.map((v) => v.name).sort(), `${comp}: each volume mounted`);
    for (const arg of pod.spec.containers[0]!.command) {
      const file = /^--[^=]+=(\/[^,]*)$/.exec(arg)?.[1];
      if (!file) continue;
      assert.ok(mounts.some((m) => file === m.mountPath || file.startsWith(`${m.mountPath}/`)), `${comp}: ${arg} is mounted`);
    }
    assert.ok(mounts.every((m) => m.readOnly), `${comp}: read-only`);
  }
  const cm = p['kube-controller-manager'].spec.volumes.map((v) => `${v.name} ${v.hostPath.path} ${v.hostPath.type}`);
  assert.ok(cm.includes('k8s-certs /etc/kubernetes/ssl DirectoryOrCreate'), cm.join('\n'));
  assert.ok(cm.includes('controller-manager-conf /etc/kubernetes/controller-manager.conf File'), cm.join('\n'));
  assert.ok(cm.includes('ca-certs /etc/ssl/certs DirectoryOrCreate'), cm.join('\n'));
});

test("the audit log's directory is mounted writable", () => {
  const v = { kube_cert_dir: '/etc/kubernetes/ssl', etcd_cert_dir: '/etc/ssl/etcd/ssl' } as Parameters<typeof volumesOf>[1];
  const volumes = volumesOf(['kube-apiserver', '--audit-log-path=/var/log/audit/kube-apiserver-audit.log', '--audit-policy-file=/etc/kubernetes/audit-policy/apiserver-audit-policy.yaml'], v);
  assert.deepEqual(volumes.find((x) => x.name === 'audit-log'), { name: 'audit-log', path: '/var/log/audit', type: 'DirectoryOrCreate', readOnly: false });
  assert.ok(volumes.some((x) => x.path === '/etc/kubernetes/audit-policy/apiserver-audit-policy.yaml' && x.readOnly));
});

test("an image is pulled through the kubelet by a throwaway static pod running the image's own --version", () => {
  const text = pullManifest({ component: 'kube-apiserver', image: 'k8s.gcr.io/kube-apiserver:v1.13.6', command: ['kube-apiserver', '--version'], manifestDir: '/etc/kubernetes/manifests', ctr: '/usr/local/bin/ctr', runningIf: [] });
  const pod = JSON.parse(text.slice(text.indexOf('\n') + 1)) as { metadata: { name: string; namespace: string }; spec: { restartPolicy: string; hostNetwork: boolean; containers: { image: string; command: string[] }[] } };
  assert.deepEqual([pod.metadata.name, pod.metadata.namespace, pod.spec.restartPolicy, pod.spec.hostNetwork], ['kprov-pull-kube-apiserver', 'kube-system', 'Never', true]);
  assert.deepEqual(pod.spec.containers.map((c) => [c.image, c.command]), [['k8s.gcr.io/kube-apiserver:v1.13.6', ['kube-apiserver', '--version']]]);
  assert.match(text, /^# Written by kprov/);
});
