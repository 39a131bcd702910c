/**
 * The nodes' pod CIDR slices: kept across inventory edits (reorder, a host removed from the
 * middle, a host inserted), the lowest free slice for a new node, a record that no longer fits the
 * subnet is ignored, and the record is written with the inventory by an apply, never by a plan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { allocatePodCidrs, POD_CIDRS_FILE, readPodCidrs, recordDiffers } from '../../../src/cluster/pod-cidrs.js';
import { createClusterRun } from '../../../src/cluster/run.js';
import { initInventory } from '../../../src/inventory/scaffold.js';
import { loadInventory } from '../../../src/inventory/load.js';

const SUBNET = '10.233.64.0/18';

test('definition order without a record; a record survives reordering, removal and insertion', () => {
  const first = allocatePodCidrs(['node1', 'node2', 'node3'], {}, SUBNET, 24);
  assert.deepEqual([...first.values()], ['10.233.64.0/24', '10.233.65.0/24', '10.233.66.0/24']);
  const record = Object.fromEntries(first);
  // node2 removed from the middle: node3 keeps its slice.
  assert.deepEqual(Object.fromEntries(allocatePodCidrs(['node1', 'node3'], record, SUBNET, 24)), { node1: '10.233.64.0/24', node3: '10.233.66.0/24' });
  // Reordered, and a new host inserted first: it takes the lowest free slice.
  const after = allocatePodCidrs(['node0', 'node3', 'node1'], { node1: '10.233.64.0/24', node3: '10.233.66.0/24' }, SUBNET, 24);
  assert.deepEqual(Object.fromEntries(after), { node0: '10.233.65.0/24', node3: '10.233.66.0/24', node1: '10.233.64.0/24' });
  assert.equal(recordDiffers(record, first), false);
  assert.equal(recordDiffers(record, after), true);
});

test('a recorded slice that is not a slice of the subnet any more, or taken twice, is reallocated', () => {
  const out = allocatePodCidrs(['a', 'b', 'c'], { a: '10.1.0.0/24', b: '10.233.64.0/24', c: '10.233.64.0/24' }, SUBNET, 24);
  assert.deepEqual(Object.fromEntries(out), { a: '10.233.65.0/24', b: '10.233.64.0/24', c: '10.233.66.0/24' });
  assert.deepEqual(Object.fromEntries(allocatePodCidrs(['a'], { a: '10.233.64.0/24' }, SUBNET, 25)), { a: '10.233.64.0/25' });
  assert.throws(() => allocatePodCidrs(['a', 'b', 'c'], {}, '10.0.0.0/23', 24), /room for 2 nodes of \/24; node c does not fit/);
});

test('an apply records the slices in the inventory; a plan does not; a broken record is a clear error', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-cidrs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const inv = path.join(dir, 'inv');
  await initInventory(inv, { hosts: '10.99.0.1,10.99.0.2,10.99.0.3,10.99.0.4' });
  const inventory = await loadInventory(inv);
  void createClusterRun(inventory, { dryRun: true }).topology;
  assert.equal(existsSync(path.join(inv, POD_CIDRS_FILE)), false, 'a plan writes nothing');
  const topology = createClusterRun(inventory).topology;
  assert.deepEqual(readPodCidrs(inv), Object.fromEntries(topology.nodes.map((n) => [n.host.name, n.podCidr])));
  assert.match(await readFile(path.join(inv, POD_CIDRS_FILE), 'utf8'), /"node4": "10\.233\.67\.0\/24"/);
  await writeFile(path.join(inv, POD_CIDRS_FILE), '{"nodes": 3}');
  assert.throws(() => readPodCidrs(inv), /is not kprov's record of the nodes' pod CIDRs/);
});
