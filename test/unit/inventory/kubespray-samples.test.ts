/**
 * Kubespray's own sample inventories (v2.9 and v2.11: their variables and values, hosts filled in)
 * as a user switching would load them: every error at once with a migration hint, then, with those
 * fixed, only warnings about what will differ.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isKprovError, KprovErrorList } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { packageRoot } from '../../../src/paths.js';
import { DOC_PATH, renderVariables } from '../../../dev/kubespray-doc.js';

const fixtures = path.join(packageRoot, 'test', 'fixtures', 'inventories');

async function errorsOf(dir: string): Promise<string[]> {
  try {
    await loadInventory(dir);
  } catch (err) {
    assert.ok(err instanceof KprovErrorList, String(err));
    return err.errors.map((e) => `${path.relative(dir, e.location!.file)}:${e.location!.line} ${e.message.split(':')[0]} | ${e.hint?.split(':')[0]}`);
  }
  assert.fail('the sample was accepted');
}

const HINTS = {
  version: 'kprov provisions Kubernetes v1.13 only',
  network: "kprov installs one pod network, its own",
  runtime: 'kprov installs containerd (with runc and the CNI plugins), not docker',
  etcd: "Kubespray's docker mode runs etcd in a Docker container; kprov runs it as a systemd unit or as kubeadm's static pod",
};

test("Kubespray v2.9's sample: every error in one run, each with what to write instead", async () => {
  assert.deepEqual(await errorsOf(path.join(fixtures, 'kubespray-sample-2.9')), [
    `group_vars/k8s-cluster/k8s-cluster.yml:35 kube_network_plugin | ${HINTS.network}`,
    `group_vars/k8s-cluster/k8s-cluster.yml:72 container_manager | ${HINTS.runtime}`,
    `group_vars/k8s-cluster/k8s-cluster.yml:74 etcd_deployment_type | ${HINTS.etcd}`,
  ]);
});

test("Kubespray v2.11's sample: every error in one run, each with what to write instead", async () => {
  assert.deepEqual(await errorsOf(path.join(fixtures, 'kubespray-sample-2.11')), [
    `group_vars/k8s-cluster/k8s-cluster.yml:14 kube_version | ${HINTS.version}`,
    `group_vars/k8s-cluster/k8s-cluster.yml:35 kube_network_plugin | ${HINTS.network}`,
    `group_vars/k8s-cluster/k8s-cluster.yml:76 container_manager | ${HINTS.runtime}`,
    `group_vars/k8s-cluster/k8s-cluster.yml:78 etcd_deployment_type | ${HINTS.etcd}`,
  ]);
});

for (const [sample, differs] of [
  ['kubespray-sample-2.9', ['dashboard_enabled']],
  ['kubespray-sample-2.11', ['dashboard_enabled', 'enable_nodelocaldns']],
] as const) {
  test(`${sample} with the hints applied loads; the only warnings are what will differ`, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kprov-ks-sample-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await cp(path.join(fixtures, sample), dir, { recursive: true });
    const file = path.join(dir, 'group_vars', 'k8s-cluster', 'k8s-cluster.yml');
    const fixed = (await readFile(file, 'utf8'))
      .replace(/^kube_version: .*$/m, 'kube_version: v1.13.5')
      .replace(/^kube_network_plugin: calico$/m, 'kube_network_plugin: bridge')
      .replace(/^container_manager: docker$/m, 'container_manager: containerd')
      .replace(/^etcd_deployment_type: docker$/m, 'etcd_deployment_type: host');
    await writeFile(file, fixed);
    const inv = await loadInventory(dir).catch((err: unknown) => assert.fail(isKprovError(err) ? err.message : String(err)));
    assert.deepEqual(inv.warnings.filter((w) => w.code === 'unknown-variable'), [], 'every variable of the sample is known to kprov or to its Kubespray table');
    assert.deepEqual(inv.warnings.map((w) => w.message.split(':')[0]), differs);
  });
}

test('docs/kubespray.md shows the same table the warnings use', async () => {
  const page = await readFile(DOC_PATH, 'utf8');
  assert.ok(page.includes(renderVariables()), 'regenerate it with: npm run build && node dist/dev/kubespray-doc.js --write');
});
