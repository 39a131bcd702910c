/** Temporary inventories for the inventory tests; removed when the test file ends. */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isKprovError, type KprovError } from '../../../src/errors.js';
import { loadInventory, type Inventory, type LoadOptions } from '../../../src/inventory/load.js';

const made: string[] = [];
after(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

/** Writes `files` (relative path → content) into a new temporary directory. */
export async function makeInventory(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-inv-'));
  made.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return dir;
}

/** A minimal valid cluster: node1 control plane + etcd, node2 a node. */
export const SMALL_INI = `[all]
node1 ansible_host=10.0.0.1
node2 ansible_host=10.0.0.2

[kube_control_plane]
node1

[etcd]
node1

[kube_node]
node2
`;

export async function load(files: Record<string, string>, options?: LoadOptions): Promise<Inventory> {
  return loadInventory(await makeInventory(files), options);
}

/** Loads and expects a KprovError; returns it with its location relative to the inventory. */
export async function loadError(files: Record<string, string>, options?: LoadOptions): Promise<KprovError & { where: string }> {
  const dir = await makeInventory(files);
  try {
    await loadInventory(dir, options);
  } catch (err) {
    if (!isKprovError(err)) throw err;
    const loc = err.location;
    const where = loc
      ? [path.relative(dir, loc.file), loc.line, loc.column].filter((x) => x !== undefined).join(':')
      : '';
    return Object.assign(err, { where });
  }
  assert.fail('expected the inventory to be rejected');
}
