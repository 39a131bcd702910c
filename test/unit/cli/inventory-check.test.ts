import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { packageRoot } from '../../../src/paths.js';
import { runCli } from '../../support/run-cli.js';

const fixtures = path.join(packageRoot, 'test', 'fixtures', 'inventories');

test('check: a valid inventory prints the summary and exits 0', async () => {
  const r = await runCli(['inventory', 'check', '-i', 'inventory/sample'], { cwd: packageRoot });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'inventory OK: 5 hosts (3 kube_control_plane, 3 etcd, 2 kube_node), Kubernetes v1.13.5\n');
});

test('check: warnings go to stderr as "warning: file:line:col: …", once per unknown variable', async () => {
  const r = await runCli(['inventory', 'check', '-i', 'test/fixtures/inventories/kubespray-2.9'], { cwd: packageRoot });
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.trimEnd().split('\n');
  assert.ok(warnings.every((w) => /^warning: test\/fixtures\/inventories\/kubespray-2\.9\/[^ ]+:\d+:\d+: /.test(w)), r.stderr);
  assert.ok(warnings.includes('warning: test/fixtures/inventories/kubespray-2.9/hosts.ini:34:1: ansible_python_interpreter is an Ansible variable kprov does not use'));
  // Kubespray settings that make the cluster differ come first, each once.
  assert.match(warnings[0]!, /^warning: test\/fixtures\/inventories\/kubespray-2\.9\/hosts\.ini:38:1: etcd_compaction_retention: a Kubespray setting kprov does not implement; your cluster will differ: /);
  assert.equal(warnings.filter((w) => w.includes(' dashboard_enabled: ')).length, 1);
  assert.match(r.stdout, new RegExp(`^inventory OK: 5 hosts \\(3 kube_control_plane, 3 etcd, 2 kube_node\\), Kubernetes v1\\.13\\.5, ${warnings.length} warnings\\n$`));
});

test('check --strict: Kubespray settings kprov lacks and unknown variables are errors (exit 2), all at their definitions', async () => {
  const dir = path.join(fixtures, 'kubespray-current');
  const r = await runCli(['inventory', 'check', '--strict', '-i', dir], { cwd: dir });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(errors.length, 3, r.stderr);
  assert.match(r.stderr, /^error: group_vars\/all\/all\.yml:4:1: ansible_python_interpreter is an Ansible variable kprov does not use\n  --strict: /m);
  assert.match(r.stderr, /^error: group_vars\/k8s_cluster\/addons\.yml:2:1: dashboard_enabled: a Kubespray setting kprov does not implement; your cluster will differ: kprov deploys no Kubernetes dashboard$/m);
  assert.match(r.stderr, /^3 problems found; fix them all and run again$/m);
});

test('inventory without a subcommand, and unknown options, are usage errors (exit 2)', async () => {
  assert.equal((await runCli(['inventory'])).code, 2);
  assert.equal((await runCli(['inventory', 'check', '--frobnicate'])).code, 2);
  const help = await runCli(['inventory', 'check', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--strict/);
});
