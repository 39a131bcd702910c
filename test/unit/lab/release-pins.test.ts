import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initInventory } from '../../../src/inventory/scaffold.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { pinInventory, readReleasePins, RELEASE_FILE } from '../../../src/lab/release-pins.js';

test('lab up pins a fresh inventory to what the mirror serves, so apply needs no edits', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-pins-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const mirror = path.join(dir, 'mirror');
  const inventory = path.join(dir, 'inventory');
  assert.equal(await readReleasePins(dir), undefined, 'no kprov-release.json: nothing to pin');
  await initInventory(inventory, { hosts: '10.213.0.11,10.213.0.12,10.213.0.13' });
  await mkdir(mirror);
  const pins = { kube_version: 'v1.13.5', kubectl_version: 'v1.20.2', etcd_version: 'v3.4.23', containerd_version: '1.6.20', runc_version: 'v1.1.5', cni_version: 'v1.1.1' };
  await writeFile(path.join(mirror, RELEASE_FILE), JSON.stringify({ pins }));
  const read = await readReleasePins(mirror);
  assert.deepEqual(read, pins);
  await pinInventory(inventory, read!);
  const inv = await loadInventory(inventory);
  for (const [key, value] of Object.entries(pins)) assert.equal(inv.hostVars('node1')[key as keyof typeof pins], value, key);

  // A later lab up on the same inventory with more pins (checksums): the earlier pins stay.
  const more = { ...pins, kubelet_checksum: `sha256:${'a'.repeat(64)}` };
  await pinInventory(inventory, more);
  const again = await loadInventory(inventory);
  for (const [key, value] of Object.entries(pins)) assert.equal(again.hostVars('node1')[key as keyof typeof pins], value, `${key} kept`);
  assert.match(await readFile(path.join(inventory, 'group_vars', 'all', 'release.yml'), 'utf8'), /^kubelet_checksum: sha256:a{64}$/m);

  await writeFile(path.join(mirror, RELEASE_FILE), '{"pins": {"kube": 1}}');
  await assert.rejects(readReleasePins(mirror), /expected \{"pins": \{"kube_version": "v1\.13\.5", …\}\}/);
});
