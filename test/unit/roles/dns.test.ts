/**
 * The dns role on fake hosts whose kubectl keeps objects like an API server: the first
 * control-plane host applies the CoreDNS objects once; a re-run writes nothing; a changed
 * upstream_dns_servers re-applies the ConfigMap alone; dns_mode: none deletes only what kprov made;
 * the rendered objects are Kubespray's (names, Corefile, Service at skydns_server).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { initInventory } from '../../../src/inventory/scaffold.js';
import { loadInventory, type Inventory } from '../../../src/inventory/load.js';
import { dnsRole } from '../../../src/roles/dns/index.js';
import { corednsObjects } from '../../../src/roles/dns/coredns.js';
import { MANIFEST_HASH_ANNOTATION } from '../../../src/roles/dns/addon-manifests.js';
import { parseLiveObjects } from '../../../src/roles/dns/live-objects.js';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import type { ExecResult } from '../../../src/ssh/types.js';
import { FakeFleet, type FakeMachine } from '../../../dev/fake-fleet.js';
import { createClusterRun } from '../../../src/cluster/run.js';
import { runYaml } from '../engine/playbook-harness.js';

const PLAYBOOK = '- name: Cluster DNS\n  hosts: kube_control_plane\n  roles: [dns]\n';
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });

type Stored = { kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string>; resourceVersion: string }; spec?: { replicas?: number }; status?: unknown };

interface FakeApi {
  objects: Map<string, Stored>;
  calls: string[];
  version: number;
}

const keyOf = (o: { kind: string; metadata: { name: string; namespace?: string } }) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function kubectl(api: FakeApi) {
  return (argv: readonly string[], machine: FakeMachine, options?: { stdin?: string | Buffer }): ExecResult | undefined => {
    if (path.posix.basename(argv[0] ?? '') !== 'kubectl') return undefined;
    const args = argv.slice(1).filter((a) => !a.startsWith('--kubeconfig') && !a.startsWith('--request-timeout'));
    api.calls.push(`${machine.name}: ${args.join(' ')}`);
    const docs = parseAllDocuments(String(options?.stdin ?? '')).map((d) => d.toJS() as Stored);
    if (args[0] === 'get') {
      const found = docs.map((d) => api.objects.get(keyOf(d))).filter((o): o is Stored => o !== undefined);
      if (found.length === 0) return ok('');
      return ok(JSON.stringify(found.length === 1 ? found[0] : { kind: 'List', items: found }));
    }
    if (args[0] === 'apply') {
      for (const d of docs) {
        const status = d.kind === 'Deployment' ? { availableReplicas: d.spec?.replicas ?? 1 } : undefined;
        api.objects.set(keyOf(d), { ...d, metadata: { ...d.metadata, resourceVersion: String(++api.version) }, ...(status ? { status } : {}) });
      }
      return ok();
    }
    if (args[0] === 'delete') {
      for (const d of docs) api.objects.delete(keyOf(d));
      return ok();
    }
    return { code: 1, stdout: '', stderr: `unexpected kubectl ${args.join(' ')}` };
  };
}

describe('dns role', () => {
  let dir: string;
  const load = async (extra = ''): Promise<Inventory> => {
    if (extra !== '') await writeFile(path.join(dir, 'inv', 'group_vars', 'k8s_cluster', 'zz-test.yml'), extra);
    return loadInventory(path.join(dir, 'inv'));
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kprov-dns-'));
    await initInventory(path.join(dir, 'inv'), { hosts: '10.99.0.1,10.99.0.2,10.99.0.3,10.99.0.4' });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (api: FakeApi, inventory: Inventory, dryRun = false) => {
    const fleet = new FakeFleet(inventory.hosts.map((h) => h.name));
    for (const m of fleet.machines.values()) m.script = kubectl(api);
    return runYaml(PLAYBOOK, { inventory, roles: [dnsRole], fleet, run: createClusterRun(inventory, { dryRun }), dryRun });
  };

  test("the objects are Kubespray's: names, the Corefile, the Service at skydns_server, a hash each", async () => {
    const inventory = await load();
    const vars = inventory.hostVars('node1');
    const objects = corednsObjects(createTemplateRenderer(), vars);
    assert.deepEqual(objects.map((o) => `${o.kind} ${o.namespace ?? '-'} ${o.name}`), [
      'ServiceAccount kube-system coredns',
      'ClusterRole - system:coredns',
      'ClusterRoleBinding - system:coredns',
      'ConfigMap kube-system coredns',
      'Deployment kube-system coredns',
      'Service kube-system coredns',
    ]);
    const cm = parseYaml(objects[3]!.manifest) as { data: { Corefile: string }; metadata: { annotations: Record<string, string> } };
    assert.match(cm.data.Corefile, /kubernetes cluster\.local in-addr\.arpa ip6\.arpa \{/);
    assert.match(cm.data.Corefile, /forward \. \/etc\/resolv\.conf/);
    assert.equal(cm.metadata.annotations[MANIFEST_HASH_ANNOTATION], objects[3]!.sha256);
    const svc = parseYaml(objects[5]!.manifest) as { spec: { clusterIP: string } };
    assert.equal(svc.spec.clusterIP, vars.skydns_server);
    const deploy = parseYaml(objects[4]!.manifest) as { spec: { replicas: number; template: { spec: { containers: Array<{ image: string }> } } } };
    assert.equal(deploy.spec.replicas, 2);
    assert.equal(deploy.spec.template.spec.containers[0]!.image, 'docker.io/coredns/coredns:1.2.6');
    // The same inventory renders the same hashes.
    assert.deepEqual(corednsObjects(createTemplateRenderer(), vars).map((o) => o.sha256), objects.map((o) => o.sha256));
  });

  test('kubectl get output: a List, one object, or nothing', () => {
    const dep = { kind: 'Deployment', metadata: { name: 'coredns', namespace: 'kube-system', annotations: { [MANIFEST_HASH_ANNOTATION]: 'abc' } }, spec: { replicas: 2 }, status: { availableReplicas: 1 } };
    assert.deepEqual([...parseLiveObjects(JSON.stringify(dep))], [['Deployment/kube-system/coredns', { sha256: 'abc', replicas: { wanted: 2, available: 1 } }]]);
    assert.equal(parseLiveObjects(JSON.stringify({ kind: 'List', items: [dep, { kind: 'ClusterRole', metadata: { name: 'x' } }] })).size, 2);
    assert.equal(parseLiveObjects('').size, 0);
    assert.throws(() => parseLiveObjects('Error from server'), /printed no JSON/);
  });

  test('applied once from the first control-plane host; a re-run writes nothing; a new upstream rewrites the ConfigMap alone', async () => {
    const api: FakeApi = { objects: new Map(), calls: [], version: 0 };
    const first = await run(api, await load());
    assert.equal(first.result.recap.find((h) => h.host === 'node1')?.changed, 1, JSON.stringify(first.result.recap));
    assert.equal(api.objects.size, 6);
    assert.ok(api.calls.every((c) => c.startsWith('node1: ')), 'only the first control-plane host runs kubectl');
    const versions = new Map([...api.objects].map(([k, o]) => [k, o.metadata.resourceVersion]));

    api.calls.length = 0;
    const again = await run(api, await load());
    assert.equal(again.result.recap.find((h) => h.host === 'node1')?.changed, 0);
    assert.deepEqual(api.calls.map((c) => c.split(' ')[1]), ['get'], 'one read, no write');
    assert.deepEqual(new Map([...api.objects].map(([k, o]) => [k, o.metadata.resourceVersion])), versions);

    api.calls.length = 0;
    const upstream = await run(api, await load('upstream_dns_servers: [10.99.0.53]\n'));
    assert.equal(upstream.result.recap.find((h) => h.host === 'node1')?.changed, 1);
    const changed = [...api.objects].filter(([k, o]) => versions.get(k) !== o.metadata.resourceVersion).map(([k]) => k);
    assert.deepEqual(changed, ['ConfigMap/kube-system/coredns']);
    assert.match(JSON.stringify(api.objects.get('ConfigMap/kube-system/coredns')), /forward \. 10\.99\.0\.53/);
  });

  test('a plan reads and says what it would create; dns_mode: none deletes what kprov made and nothing else', async () => {
    const api: FakeApi = { objects: new Map(), calls: [], version: 0 };
    const plan = await run(api, await load('upstream_dns_servers: []\n'), true);
    assert.equal(plan.result.recap.find((h) => h.host === 'node1')?.changed, 1);
    assert.equal(api.objects.size, 0);
    assert.deepEqual(plan.of('task:finish').flatMap((e) => e.changes?.map((c) => c.summary) ?? []).slice(0, 2), ['create ServiceAccount kube-system/coredns', 'create ClusterRole system:coredns']);

    await run(api, await load());
    // An object someone else made under the same name is left alone.
    api.objects.set('ClusterRole//system:coredns', { kind: 'ClusterRole', metadata: { name: 'system:coredns', resourceVersion: '99' } });
    const none = await run(api, await load('dns_mode: none\n'));
    assert.equal(none.result.recap.find((h) => h.host === 'node1')?.changed, 1);
    assert.deepEqual([...api.objects.keys()], ['ClusterRole//system:coredns']);
  });
});
