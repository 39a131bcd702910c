/**
 * Kubespray's settings for the control plane and the kubelet, rendered where Kubespray applies
 * them and checked against v1.13's flags: feature gates, extra args and custom flags, OIDC, node
 * labels and taints, resource reservations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { execStartLines, splitCommandLine } from '../../../src/cluster/flags.js';
import { pkiInputFromTopology } from '../../../src/cluster/pki.js';
import { buildTopology } from '../../../src/cluster/topology.js';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import { isKprovError } from '../../../src/errors.js';
import { planCertificates } from '../../../src/pki/index.js';
import { renderControlPlaneUnits } from '../../../src/roles/control-plane/units.js';
import { renderNodeFiles } from '../../../src/roles/node/index.js';
import { loadTestInventory, testRun } from '../cluster/test-cluster.js';

function flagsOf(unit: string): Map<string, string> {
  const argv = splitCommandLine(execStartLines(unit)[0]!);
  return new Map(argv.slice(1).map((a) => [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
}

async function render(t: Parameters<typeof loadTestInventory>[0], vars: Record<string, unknown>) {
  const inventory = await loadTestInventory(t, { controlPlane: 1, workers: 1, vars });
  const topology = buildTopology(inventory);
  const ctx = { render: createTemplateRenderer(), run: testRun(inventory) };
  return {
    controlPlane: () => renderControlPlaneUnits(ctx, topology, topology.controlPlane[0]!, planCertificates(pkiInputFromTopology(topology))),
    node: () => renderNodeFiles(ctx, 'node2'),
  };
}

test('kube_feature_gates reach every component; extra args replace kprov\'s value or add a flag; custom flags win last', async (t) => {
  const r = await render(t, {
    kube_feature_gates: ['CSIBlockVolume=true', 'PodPriority=false'],
    kube_kubeadm_apiserver_extra_args: { 'service-node-port-range': '30000-31000', v: 4 },
    apiserver_custom_flags: ['--v=5', '--audit-log-maxage=7'],
    kube_kubeadm_scheduler_extra_args: { 'leader-elect': false },
  });
  const units = r.controlPlane();
  const api = flagsOf(units['kube-apiserver']);
  assert.equal(api.get('feature-gates'), 'CSIBlockVolume=true,PodPriority=false');
  assert.equal(api.get('service-node-port-range'), '30000-31000');
  assert.equal(api.get('v'), '5', 'the custom flag came last and wins');
  assert.equal(api.get('audit-log-maxage'), '7');
  assert.equal(units['kube-apiserver'].match(/--v=/g)!.length, 1, 'replaced, not repeated');
  assert.equal(flagsOf(units['kube-scheduler']).get('leader-elect'), 'false');
  assert.equal(flagsOf(units['kube-controller-manager']).get('feature-gates'), 'CSIBlockVolume=true,PodPriority=false');
  const node = r.node();
  assert.deepEqual(parse(node.kubeletConfig).featureGates, { CSIBlockVolume: true, PodPriority: false });
  assert.deepEqual(parse(node.proxyConfig).featureGates, { CSIBlockVolume: true, PodPriority: false });
});

test('a flag v1.13 does not know is an error naming the variable that brought it', async (t) => {
  const r = await render(t, { controller_mgr_custom_flags: ['--node-cidr-mask-size=24', '--magic=1'] });
  assert.throws(r.controlPlane, (e: unknown) => isKprovError(e) && e.message === 'controller_mgr_custom_flags: kube-controller-manager does not accept --magic (v1.13)');
  const bad = await render(t, { kubelet_custom_flags: ['not-a-flag'] });
  assert.throws(bad.node, (e: unknown) => isKprovError(e) && /^kubelet_custom_flags: "not-a-flag" is not a flag; expected --name=value$/.test(e.message));
});

test('kube_oidc_* become --oidc-* flags only with kube_oidc_auth', async (t) => {
  const oidc = { kube_oidc_url: 'https://login.example.test', kube_oidc_client_id: 'kubernetes', kube_oidc_username_claim: 'email', kube_oidc_groups_claim: 'groups' };
  const off = flagsOf((await render(t, oidc)).controlPlane()['kube-apiserver']);
  assert.equal([...off.keys()].some((k) => k.startsWith('oidc-')), false);
  const on = flagsOf((await render(t, { ...oidc, kube_oidc_auth: true })).controlPlane()['kube-apiserver']);
  assert.deepEqual(Object.fromEntries([...on].filter(([k]) => k.startsWith('oidc-'))), {
    'oidc-issuer-url': 'https://login.example.test',
    'oidc-client-id': 'kubernetes',
    'oidc-username-claim': 'email',
    'oidc-groups-claim': 'groups',
  });
});

test('node_labels, node_taints and kubelet_custom_flags reach the kubelet; reservations its config', async (t) => {
  const r = await render(t, {
    node_labels: { 'node-role.kubernetes.io/ingress': '', disk: 'ssd' },
    node_taints: ['dedicated=ingress:NoSchedule'],
    kubelet_custom_flags: ['--eviction-hard=memory.available<200Mi'],
    kube_reserved: true,
    system_reserved: true,
    system_memory_reserved: '1G',
  });
  const node = r.node();
  const kubelet = flagsOf(node.kubeletUnit);
  assert.equal(kubelet.get('node-labels'), 'node-role.kubernetes.io/node=,node-role.kubernetes.io/ingress=,disk=ssd');
  assert.equal(kubelet.get('register-with-taints'), 'dedicated=ingress:NoSchedule');
  assert.equal(kubelet.get('eviction-hard'), 'memory.available<200Mi');
  const config = parse(node.kubeletConfig);
  assert.deepEqual(config.kubeReserved, { cpu: '100m', memory: '256M' });
  assert.deepEqual(config.systemReserved, { cpu: '500m', memory: '1G' });
  const plain = parse((await render(t, {})).node().kubeletConfig);
  assert.equal('kubeReserved' in plain || 'systemReserved' in plain || 'featureGates' in plain, false, 'nothing rendered unless set');
});

test('http_proxy, https_proxy and no_proxy reach containerd, which pulls images through them', async (t) => {
  const { renderRuntimeFiles } = await import('../../../src/roles/runtime/index.js');
  const inventory = await loadTestInventory(t, { controlPlane: 1, workers: 1, vars: { https_proxy: 'http://proxy.corp.example:3128', no_proxy: 'localhost,.corp.example' } });
  const { unit } = renderRuntimeFiles({ render: createTemplateRenderer(), run: testRun(inventory) }, 'node2');
  assert.match(unit, /^Environment="HTTPS_PROXY=http:\/\/proxy\.corp\.example:3128"$/m);
  assert.match(unit, /^Environment="NO_PROXY=localhost,\.corp\.example"$/m);
  assert.doesNotMatch(unit, /HTTP_PROXY=/);
});

test('kubernetes_audit: the audit flags on kube-apiserver, with Kubespray\'s defaults', async (t) => {
  const off = flagsOf((await render(t, {})).controlPlane()['kube-apiserver']);
  assert.equal([...off.keys()].some((k) => k.startsWith('audit-')), false);
  const on = flagsOf((await render(t, { kubernetes_audit: true, audit_log_maxage: 7 })).controlPlane()['kube-apiserver']);
  assert.deepEqual(Object.fromEntries([...on].filter(([k]) => k.startsWith('audit-'))), {
    'audit-policy-file': '/etc/kubernetes/audit-policy/apiserver-audit-policy.yaml',
    'audit-log-path': '/var/log/audit/kube-apiserver-audit.log',
    'audit-log-maxage': '7',
    'audit-log-maxbackup': '1',
    'audit-log-maxsize': '100',
  });
  const policy = parse(createTemplateRenderer()('control-plane/apiserver-audit-policy.yaml.j2', {}));
  assert.equal(policy.kind, 'Policy');
  assert.equal(policy.apiVersion, 'audit.k8s.io/v1');
});
