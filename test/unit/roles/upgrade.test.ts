/**
 * upgrade-cluster's pure parts and its guard in cluster.yml: the version a host reports, the
 * refusal of apply cluster on another version (exit 2, naming upgrade-cluster), the Node fields
 * the node gate reads, and the shipped playbook's plays, batches and failure policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadPlaybook } from '../../../src/engine/playbook.js';
import { planRun } from '../../../src/engine/run-plan.js';
import { KprovError } from '../../../src/errors.js';
import { packageRoot } from '../../../src/paths.js';
import { builtinRoleRegistry } from '../../../src/roles/index.js';
import { parseUpgradeNode } from '../../../src/roles/upgrade/node-api.js';
import { installedVersions, kubeVersionRole, parseInstalledVersion, versionDiffers } from '../../../src/roles/upgrade/version.js';
import { upgradeNodeRole } from '../../../src/roles/upgrade/index.js';
import type { RemoteHost } from '../../../src/ssh/types.js';
import { loadTestInventory, taskContext } from '../cluster/test-cluster.js';

/** A host whose only command answers what the version probe would print. */
const answering = (name: string, stdout: string): RemoteHost =>
  ({ name, exec: async () => ({ code: 0, stdout, stderr: '' }) }) as unknown as RemoteHost;

test('the installed version: the marker, or the first line of --version; nothing when neither is there', () => {
  assert.equal(parseInstalledVersion('v1.13.5\n'), 'v1.13.5');
  assert.equal(parseInstalledVersion('Kubernetes v1.13.6\n'), 'v1.13.6');
  assert.equal(parseInstalledVersion(''), undefined);
  assert.equal(parseInstalledVersion('kubelet: command not found'), undefined);
});

test('apply cluster refuses a host on another version (code refused, exit 2, naming upgrade-cluster); the same version or none passes', async (t) => {
  const inventory = await loadTestInventory(t, { controlPlane: 1, workers: 1, vars: { kube_version: 'v1.13.6' } });
  const ctx = taskContext(inventory, 'node2');
  const [guard] = await kubeVersionRole.tasks(ctx);
  await assert.rejects(guard!.check(answering('node2', 'v1.13.5\n'), ctx), (err: KprovError) => {
    assert.equal(err.code, 'refused');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^node2 runs Kubernetes v1\.13\.5 and kube_version is v1\.13\.6: apply cluster does not change the version of a running cluster$/);
    assert.match(err.hint ?? '', /kprov apply upgrade-cluster -i /);
    return true;
  });
  assert.deepEqual(await guard!.check(answering('node2', 'Kubernetes v1.13.6\n'), ctx), []);
  assert.deepEqual(await guard!.check(answering('node2', ''), ctx), []);
  // What the run found is kept for the upgrade's snapshot decision.
  assert.deepEqual(installedVersions(ctx.run).get('node2'), undefined);
  await guard!.check(answering('node2', 'v1.13.5\n'), ctx).catch(() => undefined);
  assert.deepEqual(versionDiffers(ctx.run), ['node2 (v1.13.5)']);
  // Tags that install Kubernetes binaries select the guard too.
  for (const tag of ['node', 'kubelet', 'download', 'control-plane']) assert.ok(guard!.tags?.includes(tag), tag);
});

test('the Node as the node gate reads it: Ready, kubeletVersion, cordoned by the upgrade', () => {
  assert.equal(parseUpgradeNode(''), undefined);
  const node = {
    metadata: { name: 'node2', annotations: { 'kprov.io/upgrade-cordoned': 'true' } },
    spec: { unschedulable: true },
    status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.13.6' } },
  };
  assert.deepEqual(parseUpgradeNode(JSON.stringify(node)), { unschedulable: true, ready: true, kubeletVersion: 'v1.13.6', cordonedByUpgrade: true });
  assert.deepEqual(parseUpgradeNode(JSON.stringify({ metadata: { name: 'node3' } })), { unschedulable: false, ready: false, kubeletVersion: undefined, cordonedByUpgrade: false });
});

test('upgrade-cluster.yml: preflight on every host, etcd and control plane one at a time, workers in batches of serial', async (t) => {
  const inventory = await loadTestInventory(t, { controlPlane: 3, workers: 3 });
  const playbook = await loadPlaybook(path.join(packageRoot, 'playbooks', 'upgrade-cluster.yml'));
  const plan = (variables: Record<string, unknown>) => planRun(playbook, inventory, builtinRoleRegistry(), { variables });
  const p = plan({ serial: 2 });
  assert.deepEqual(
    p.plays.map((x) => [x.play.name, x.hosts.map((h) => h.name).join(','), x.play.serial, x.play.maxFailPercentage ?? null, x.play.anyErrorsFatal]),
    [
      ['Upgrade preflight', 'node1,node2,node3,node4,node5,node6', undefined, null, true],
      ['etcd snapshot before the upgrade', 'node1,node2,node3', undefined, null, true],
      ['Upgrade etcd', 'node1,node2,node3', { count: 1 }, 0, false],
      ['Upgrade the control plane', 'node1,node2,node3', { count: 1 }, 0, false],
      ["Upgrade the control-plane hosts' kubelets", 'node1,node2,node3', { count: 1 }, 0, false],
      ['Upgrade the workers', 'node4,node5,node6', { count: 2 }, 0, false],
    ],
  );
  assert.deepEqual(plan({}).plays.at(-1)!.play.serial, { count: 1 });
  assert.deepEqual(plan({ serial: '50%' }).plays.at(-1)!.play.serial, { percent: 50 });
  assert.throws(() => plan({ serial: 'all' }), (err: KprovError) => err.code === 'usage' && /serial is "all"/.test(err.message));
});

test('upgrade_node_confirm and upgrade_node_pause_seconds are refused with a hint', async (t) => {
  const inventory = await loadTestInventory(t, { controlPlane: 1, vars: { upgrade_node_pause_seconds: 30 } });
  const ctx = taskContext(inventory, 'node1');
  assert.throws(
    () => upgradeNodeRole.validate!({ play: 'p', hosts: inventory.hosts, inventory, run: ctx.run, dryRun: false, render: ctx.render, warn: () => {} }),
    (err: KprovError) => err.code === 'usage' && /upgrade_node_pause_seconds is set/.test(err.message) && /serial/.test(err.hint ?? ''),
  );
});
