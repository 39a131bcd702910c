import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { formatError, isKprovError } from '../../../src/errors.js';
import { parseExtraVars } from '../../../src/inventory/extra-vars.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { makeInventory, SMALL_INI } from './temp-inventory.js';

test('-e beats every inventory file, in all three of Ansible\'s forms; a later -e wins', async () => {
  const dir = await makeInventory({
    'inventory.ini': SMALL_INI,
    'group_vars/all.yml': 'kube_log_level: 1\nkubelet_max_pods: 50\n',
    'host_vars/node2.yml': 'kube_proxy_mode: iptables\n',
    'extra.yml': '# extra\nkube_proxy_mode: ipvs\n',
  });
  const extraVars = await parseExtraVars(['kube_log_level=4 kubelet_max_pods="60"', '{"kube_log_level": 5}', '@extra.yml'], dir);
  const inv = await loadInventory(dir, { extraVars });
  assert.equal(inv.cluster.kube_log_level, 5);
  assert.equal(inv.hostVars('node2').kubelet_max_pods, 60);
  assert.equal(inv.hostVars('node2').kube_proxy_mode, 'ipvs');
  assert.equal(inv.definedAt('node2', 'kube_proxy_mode')?.location.file, path.join(dir, 'extra.yml'));
  assert.equal(inv.definedAt('node2', 'kube_proxy_mode')?.location.line, 2);
});

test('a bad -e value names the -e it came from', async () => {
  const dir = await makeInventory({ 'inventory.ini': SMALL_INI });
  const extraVars = await parseExtraVars(['kube_version=v1.14.0'], dir);
  const err = await loadInventory(dir, { extraVars }).then(() => assert.fail('accepted'), (e: unknown) => e);
  assert.ok(isKprovError(err));
  assert.match(formatError(err), /^error: \[node1, node2\] -e #1 \(kube_version=v1\.14\.0\): kube_version: found "v1\.14\.0"/);
  assert.match(formatError(err), /kprov provisions Kubernetes v1\.13 only/);
  await assert.rejects(parseExtraVars(['kube_version'], dir), /-e kube_version: expected key=value, found "kube_version"/);
  await assert.rejects(parseExtraVars(['{"1bad": 1}'], dir), /invalid variable name "1bad"/);
});

test("-u, -b, --become-user and --private-key replace kprov's defaults; the inventory's own values still win (as in Ansible)", async () => {
  const dir = await makeInventory({ 'inventory.ini': SMALL_INI, 'host_vars/node2.yml': 'ansible_user: admin\n' });
  const inv = await loadInventory(dir, { connectionDefaults: { ansible_user: 'deploy', ansible_become: true, ansible_become_user: 'root' } });
  assert.equal(inv.hostVars('node1').ansible_user, 'deploy');
  assert.equal(inv.hostVars('node1').ansible_become, true);
  assert.equal(inv.hostVars('node2').ansible_user, 'admin');
});
