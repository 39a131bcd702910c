/**
 * The pure parts of the stand-ins' application support: range bitmaps, service-account JWTs, RBAC
 * rule matching, strategic merge patch, workload and service defaulting, and the controllers'
 * arithmetic (rollouts, endpoints, pod choice, orphans, --controllers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { signServiceAccountToken, verifyServiceAccountToken } from '../../../dev/standin/common/serviceaccount-token.js';
import { selectorMatches, selectorString } from '../../../dev/standin/common/label-selector.js';
import { RangeBitmap } from '../../../dev/standin/kube-apiserver/range-bitmap.js';
import { ruleAllows, subjectMatches } from '../../../dev/standin/kube-apiserver/rbac-rules.js';
import { jsonPatch, strategicMergePatch } from '../../../dev/standin/kube-apiserver/patch.js';
import { defaultService } from '../../../dev/standin/kube-apiserver/services.js';
import { defaultWorkloadSpec } from '../../../dev/standin/kube-apiserver/workloads.js';
import { mountToken } from '../../../dev/standin/kube-apiserver/serviceaccount-admission.js';
import { normalizeSecret } from '../../../dev/standin/kube-apiserver/secrets.js';
import { podReferences } from '../../../dev/standin/kube-apiserver/node-authorizer.js';
import { forbiddenMessage } from '../../../dev/standin/kube-apiserver/authz.js';
import {
  deploymentStatus,
  newReplicaSetReplicas,
  oldReplicasToScaleDown,
  podTemplateHash,
  surgeAndUnavailable,
  templatesEqual,
} from '../../../dev/standin/kube-controller-manager/deployment-rollout.js';
import { endpointSubsets, resolveTargetPort } from '../../../dev/standin/kube-controller-manager/endpoints.js';
import { podFromTemplate, podsToDelete } from '../../../dev/standin/kube-controller-manager/replicaset.js';
import { orphaned } from '../../../dev/standin/kube-controller-manager/garbage-collector.js';
import { controllerEnabled } from '../../../dev/standin/kube-controller-manager/controller-enabled.js';

test('range bitmap: bits as v1.13 stores them (big-endian big.Int bytes), free-slot scan wraps', () => {
  const b = new RangeBitmap(20);
  assert.deepEqual([...b.encode()], []);
  b.set(0);
  b.set(9);
  assert.deepEqual([...b.encode()], [0x02, 0x01]);
  const again = new RangeBitmap(20, b.encode());
  assert.equal(again.has(9), true);
  assert.equal(again.has(8), false);
  assert.equal(again.count(), 2);
  assert.equal(again.firstFree(9), 10);
  for (let i = 0; i < 20; i++) if (i !== 3) again.set(i);
  assert.equal(again.firstFree(15), 3);
  again.set(3);
  assert.equal(again.firstFree(0), undefined);
  again.clear(7);
  assert.equal(again.firstFree(0), 7);
});

test('service-account tokens: legacy claims, RS256, verified only with the right key and issuer', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  const claims = { namespace: 'kube-system', secretName: 'coredns-token-abcde', serviceAccountName: 'coredns', serviceAccountUID: 'u-1' };
  const token = signServiceAccountToken(privateKey, claims);
  const [h, p] = token.split('.').slice(0, 2).map((x) => JSON.parse(Buffer.from(x, 'base64url').toString()) as Record<string, string>);
  assert.deepEqual(h, { alg: 'RS256', kid: '' });
  assert.equal(p!.iss, 'kubernetes/serviceaccount');
  assert.equal(p!.sub, 'system:serviceaccount:kube-system:coredns');
  assert.equal(p!['kubernetes.io/serviceaccount/secret.name'], 'coredns-token-abcde');
  assert.deepEqual(verifyServiceAccountToken([other, publicKey], token), claims);
  assert.equal(verifyServiceAccountToken([other], token), undefined);
  assert.equal(verifyServiceAccountToken([publicKey], `${token.slice(0, -4)}AAAA`), undefined);
  assert.equal(verifyServiceAccountToken([publicKey], 'not-a-jwt'), undefined);
});

test('RBAC rules: verbs, groups, resources with * and subresources, resourceNames, nonResourceURLs; subjects', () => {
  const req = { verb: 'get', resourceRequest: true, path: '', apiGroup: 'apps', resource: 'deployments', name: 'web' };
  assert.equal(ruleAllows({ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] }, req), true);
  assert.equal(ruleAllows({ verbs: ['get'], apiGroups: [''], resources: ['deployments'] }, req), false);
  assert.equal(ruleAllows({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, req), true);
  assert.equal(ruleAllows({ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['other'] }, req), false);
  assert.equal(ruleAllows({ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'] }, req), true);
  const scale = { ...req, subresource: 'scale' };
  assert.equal(ruleAllows({ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] }, scale), false);
  assert.equal(ruleAllows({ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments/scale'] }, scale), true);
  assert.equal(ruleAllows({ verbs: ['get'], apiGroups: ['apps'], resources: ['*/scale'] }, scale), true);
  const url = { verb: 'get', resourceRequest: false, path: '/healthz/etcd' };
  assert.equal(ruleAllows({ verbs: ['get'], nonResourceURLs: ['/healthz/*'] }, url), true);
  assert.equal(ruleAllows({ verbs: ['get'], nonResourceURLs: ['/healthz'] }, url), false);
  assert.equal(ruleAllows({ verbs: ['get'], apiGroups: ['*'], resources: ['*'] }, url), false);
  const user = { name: 'system:serviceaccount:kube-system:coredns', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] };
  assert.equal(subjectMatches({ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }, user, undefined), true);
  assert.equal(subjectMatches({ kind: 'ServiceAccount', name: 'coredns' }, user, 'kube-system'), true);
  assert.equal(subjectMatches({ kind: 'ServiceAccount', name: 'coredns' }, user, 'default'), false);
  assert.equal(subjectMatches({ kind: 'Group', name: 'system:serviceaccounts:kube-system' }, user, 'default'), true);
  assert.equal(subjectMatches({ kind: 'User', name: 'coredns' }, user, undefined), false);
  assert.equal(
    forbiddenMessage({ user, verb: 'list', path: '', resourceRequest: true, apiGroup: 'apps', resource: 'deployments', namespace: 'default' }),
    'deployments.apps is forbidden: User "system:serviceaccount:kube-system:coredns" cannot list resource "deployments" in API group "apps" in the namespace "default"',
  );
});

test('strategic merge patch: container ports by containerPort, service ports by port, $retainKeys, nested containers', () => {
  const deployment = {
    spec: {
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: { spec: { containers: [{ name: 'a', image: 'x:1', ports: [{ containerPort: 53, protocol: 'UDP' }] }, { name: 'b', image: 'y:1' }] } },
    },
  };
  const patched = strategicMergePatch(deployment, {
    spec: {
      strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null },
      template: { spec: { $setElementOrder_containers: [], containers: [{ name: 'a', image: 'x:2', ports: [{ containerPort: 54, protocol: 'TCP' }] }] } },
    },
  }) as { spec: { strategy: unknown; template: { spec: { containers: Array<{ name: string; image: string; ports?: unknown[] }> } } } };
  assert.deepEqual(patched.spec.strategy, { type: 'Recreate' });
  assert.deepEqual(patched.spec.template.spec.containers.map((c) => [c.name, c.image]), [['a', 'x:2'], ['b', 'y:1']]);
  assert.deepEqual(patched.spec.template.spec.containers[0]!.ports, [{ containerPort: 53, protocol: 'UDP' }, { containerPort: 54, protocol: 'TCP' }]);
  const svc = strategicMergePatch({ spec: { ports: [{ port: 80, nodePort: 30080, targetPort: 80 }] } }, { spec: { ports: [{ port: 80, targetPort: 8080 }] } });
  assert.deepEqual(svc, { spec: { ports: [{ port: 80, nodePort: 30080, targetPort: 8080 }] } });
  // Lists without a merge key (args, rules) are replaced.
  assert.deepEqual(strategicMergePatch({ args: ['a', 'b'] }, { args: ['c'] }), { args: ['c'] });
});

test('JSON patch (RFC 6902): add, replace, remove, move, copy, test; the target is not changed', () => {
  const doc = { metadata: { annotations: { a: '1' } }, spec: { list: [1, 2] } };
  const out = jsonPatch(doc, [
    { op: 'replace', path: '/metadata/annotations', value: { b: '2' } },
    { op: 'add', path: '/spec/list/-', value: 3 },
    { op: 'add', path: '/spec/list/0', value: 0 },
    { op: 'remove', path: '/spec/list/1' },
    { op: 'copy', from: '/metadata/annotations/b', path: '/spec/c' },
    { op: 'move', from: '/spec/c', path: '/spec/d~1e' },
    { op: 'test', path: '/spec/list', value: [0, 2, 3] },
  ]);
  assert.deepEqual(out, { metadata: { annotations: { b: '2' } }, spec: { list: [0, 2, 3], 'd/e': '2' } });
  assert.deepEqual(doc.spec.list, [1, 2]);
  assert.throws(() => jsonPatch(doc, [{ op: 'test', path: '/spec/list', value: [] }]), /test operation failed/);
  assert.throws(() => jsonPatch(doc, [{ op: 'replace', path: '/nope/x', value: 1 }]), /does not exist/);
});

test('secrets: stringData goes into data, type defaults to Opaque, data must be base64', () => {
  assert.deepEqual(normalizeSecret({ metadata: { name: 's' }, data: { a: 'eA==' }, stringData: { b: 'hi' } }), { metadata: { name: 's' }, type: 'Opaque', data: { a: 'eA==', b: 'aGk=' } });
  assert.throws(() => normalizeSecret({ metadata: { name: 's' }, data: { a: 'not base64!' } }), /Secret "s" is invalid: data\[a\]: Invalid value: "not base64!": illegal base64 data/);
  assert.throws(() => normalizeSecret({ metadata: { name: 't' }, type: 'kubernetes.io/service-account-token' }), /service-account.name\]: Required value/);
});

test('services: v1.13 defaults and validation causes', () => {
  const { spec, causes } = defaultService({ type: 'NodePort', ports: [{ port: 80 }] });
  assert.deepEqual(causes, []);
  assert.deepEqual(spec, { type: 'NodePort', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }], sessionAffinity: 'None', externalTrafficPolicy: 'Cluster' });
  assert.deepEqual(defaultService({ ports: [{ port: 80 }, { port: 81 }] }).causes, ['spec.ports[0].name: Required value', 'spec.ports[1].name: Required value']);
  assert.deepEqual(defaultService({}).causes, ['spec.ports: Required value']);
  assert.match(defaultService({ ports: [{ port: 80, nodePort: 30001 }] }).causes[0]!, /nodePort: Forbidden: may not be used when `type` is 'ClusterIP'/);
});

test('deployments: defaults, selector must match template labels, token mounts, node references', () => {
  const { spec, causes } = defaultWorkloadSpec('Deployment', { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'w:1' }] } } });
  assert.deepEqual(causes, []);
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  assert.equal(spec.revisionHistoryLimit, 10);
  assert.equal(spec.progressDeadlineSeconds, 600);
  const t = spec.template as { spec: { restartPolicy: string; dnsPolicy: string; containers: Array<{ imagePullPolicy: string; terminationMessagePath: string }> } };
  assert.equal(t.spec.restartPolicy, 'Always');
  assert.equal(t.spec.containers[0]!.imagePullPolicy, 'IfNotPresent');
  const bad = defaultWorkloadSpec('Deployment', { selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
  assert.deepEqual(bad.causes, ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"y"}: `selector` does not match template `labels`']);
  assert.deepEqual(defaultWorkloadSpec('ReplicaSet', { template: { spec: { containers: [{ name: 'c', image: 'i' }] } } }).causes, ['spec.selector: Required value']);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] }, { tier: 'b' }), true);
  assert.equal(selectorString({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['b', 'a'] }] }), 'app=web,tier notin (a,b)');

  const mounted = mountToken({ containers: [{ name: 'a' }], initContainers: [{ name: 'i' }] }, 'default-token-x2b4z');
  assert.deepEqual(mounted.volumes, [{ name: 'default-token-x2b4z', secret: { secretName: 'default-token-x2b4z', defaultMode: 420 } }]);
  assert.deepEqual((mounted.initContainers as Array<{ volumeMounts: unknown[] }>)[0]!.volumeMounts, [{ name: 'default-token-x2b4z', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);
  const refs = podReferences({ spec: { imagePullSecrets: [{ name: 'pull' }], volumes: [{ name: 'v', configMap: { name: 'cfg' } }, { name: 't', secret: { secretName: 'tok' } }], containers: [{ envFrom: [{ secretRef: { name: 'env' } }], env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm2', key: 'k' } } }] }] } });
  assert.deepEqual([...refs.secrets].sort(), ['env', 'pull', 'tok']);
  assert.deepEqual([...refs.configmaps].sort(), ['cfg', 'cm2']);
});

const rs = (name: string, replicas: number, available: number, revision: number, template: unknown = {}) => ({
  metadata: { name, uid: name, annotations: { 'deployment.kubernetes.io/revision': String(revision) } },
  spec: { replicas, template },
  status: { replicas, readyReplicas: available, availableReplicas: available },
});

test('deployment rollout arithmetic: hash, surge/unavailable, how far new grows and old shrinks, status', () => {
  const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'w:1' }] } };
  assert.match(podTemplateHash(template), /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
  assert.equal(podTemplateHash(template), podTemplateHash(structuredClone(template)));
  assert.notEqual(podTemplateHash(template), podTemplateHash(template, 1));
  assert.equal(templatesEqual({ metadata: { labels: { app: 'web', 'pod-template-hash': 'abc' } }, spec: {} }, { metadata: { labels: { app: 'web' } }, spec: {} }), true);
  const d = (replicas: number, extra: Record<string, unknown> = {}) => ({ metadata: { generation: 3 }, spec: { replicas, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } }, ...extra }, status: {} });
  assert.deepEqual(surgeAndUnavailable(d(4)), { maxSurge: 1, maxUnavailable: 1 });
  assert.deepEqual(surgeAndUnavailable(d(1)), { maxSurge: 1, maxUnavailable: 0 });
  assert.deepEqual(surgeAndUnavailable(d(2, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } } })), { maxSurge: 0, maxUnavailable: 1 });
  // First rollout: the new ReplicaSet gets every replica.
  assert.equal(newReplicaSetReplicas(d(2), [], undefined), 2);
  // A template change with 4 old replicas: the new one may surge by 1; old may drop by 1 once new is available.
  const old = rs('old', 4, 4, 1);
  const fresh = rs('new', 0, 0, 2);
  assert.equal(newReplicaSetReplicas(d(4), [old, fresh], fresh), 1);
  const grown = rs('new', 1, 0, 2);
  // 5 pods, at least 3 available, the new one not yet: one old pod may go (v1.13's maxScaledDown).
  assert.equal(oldReplicasToScaleDown(d(4), [old, grown], grown), 1);
  const ready = rs('new', 1, 1, 2);
  assert.equal(oldReplicasToScaleDown(d(4), [old, ready], ready), 2);
  const surged = rs('new', 2, 0, 2);
  assert.equal(oldReplicasToScaleDown(d(4), [rs('old', 3, 3, 1), surged], surged), 0);
  const done = rs('new', 2, 2, 1);
  const status = deploymentStatus(d(2), [done], done, false, '2026-01-01T00:00:00Z') as { observedGeneration: number; conditions: Array<{ type: string; reason: string }>; updatedReplicas: number; availableReplicas: number };
  assert.equal(status.observedGeneration, 3);
  assert.equal(status.updatedReplicas, 2);
  assert.deepEqual(status.conditions.map((c) => [c.type, c.reason]), [['Available', 'MinimumReplicasAvailable'], ['Progressing', 'NewReplicaSetAvailable']]);
  const partial = deploymentStatus(d(2), [rs('new', 2, 0, 1)], rs('new', 2, 0, 1), true, 'now') as { unavailableReplicas: number; conditions: Array<{ type: string; status: string; reason: string }> };
  assert.equal(partial.unavailableReplicas, 2);
  assert.deepEqual(partial.conditions.map((c) => [c.type, c.status, c.reason]), [['Available', 'False', 'MinimumReplicasUnavailable'], ['Progressing', 'True', 'NewReplicaSetCreated']]);
});

const pod = (name: string, ip: string | undefined, ready: boolean, extra: Record<string, unknown> = {}) => ({
  metadata: { name, namespace: 'default', uid: `u-${name}`, resourceVersion: '7', labels: { app: 'web' }, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { nodeName: 'n1', containers: [{ name: 'web', ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: { phase: 'Running', ...(ip ? { podIP: ip } : {}), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  ...extra,
});

test('endpoints: ready and not-ready addresses, named target ports, pods without IP or being deleted left out', () => {
  const svc = { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'h', port: 80, targetPort: 'http', protocol: 'TCP' }] } };
  assert.equal(resolveTargetPort(pod('a', '1.1.1.1', true), { targetPort: 'http' }), 8080);
  assert.equal(resolveTargetPort(pod('a', '1.1.1.1', true), { port: 80 }), 80);
  const subsets = endpointSubsets(svc, [
    pod('b', '10.0.0.2', true),
    pod('a', '10.0.0.1', true),
    pod('c', '10.0.0.3', false),
    pod('d', undefined, true),
    { ...pod('e', '10.0.0.5', true), metadata: { ...pod('e', '', true).metadata, deletionTimestamp: 'now' } },
  ]);
  assert.equal(subsets.length, 1);
  const s = subsets[0] as { addresses: Array<{ ip: string; nodeName: string; targetRef: { name: string } }>; notReadyAddresses: Array<{ ip: string }>; ports: unknown[] };
  assert.deepEqual(s.addresses.map((a) => a.ip), ['10.0.0.1', '10.0.0.2']);
  assert.equal(s.addresses[0]!.nodeName, 'n1');
  assert.equal(s.addresses[0]!.targetRef.name, 'a');
  assert.deepEqual(s.notReadyAddresses.map((a) => a.ip), ['10.0.0.3']);
  assert.deepEqual(s.ports, [{ name: 'h', port: 8080, protocol: 'TCP' }]);
});

test('replicasets, garbage collector, --controllers', () => {
  const set = { metadata: { name: 'web-abc', namespace: 'default', uid: 'rs-1' }, spec: { template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web' }] } } } };
  const p = podFromTemplate(set) as { metadata: { generateName: string; ownerReferences: Array<{ kind: string; uid: string; controller: boolean }> } };
  assert.equal(p.metadata.generateName, 'web-abc-');
  assert.deepEqual(p.metadata.ownerReferences.map((r) => [r.kind, r.uid, r.controller]), [['ReplicaSet', 'rs-1', true]]);
  const unbound = { ...pod('x', undefined, false), spec: { containers: [] }, status: { phase: 'Pending' } };
  assert.deepEqual(podsToDelete([pod('a', '1', true), unbound, pod('b', '2', false)], 2).map((o) => (o.metadata as { name: string }).name), ['x', 'b']);
  const known = new Set(['apps/v1/ReplicaSet']);
  assert.equal(orphaned({ metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', uid: 'gone' }] } }, new Set(['other']), known), true);
  assert.equal(orphaned({ metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', uid: 'here' }] } }, new Set(['here']), known), false);
  assert.equal(orphaned({ metadata: { ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'Thing', uid: 'x' }] } }, new Set(), known), false);
  assert.equal(orphaned({ metadata: {} }, new Set(), known), false);
  assert.equal(controllerEnabled(['*'], 'deployment'), true);
  assert.equal(controllerEnabled(['*'], 'tokencleaner'), false);
  assert.equal(controllerEnabled(['*', 'tokencleaner'], 'tokencleaner'), true);
  assert.equal(controllerEnabled(['*', '-deployment'], 'deployment'), false);
  assert.equal(controllerEnabled(['endpoint'], 'deployment'), false);
});
