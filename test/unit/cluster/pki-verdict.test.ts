/**
 * The remembered PKI verdict (src/pki/verified.ts through loadClusterPki): a run after a check
 * that changed nothing skips the check, and anything the check judges — a file's bytes or mode,
 * a directory's mode, the plan, the clock past the first renewal — brings the full check back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { loadClusterPki, PKI_VERDICT_FILE } from '../../../src/cluster/pki.js';
import { loadTestInventory } from './test-cluster.js';

const DAY = 86_400_000;

/** Whether this load reused the remembered verdict (it then rewrites no verdict file). */
async function load(inventory: Parameters<typeof loadClusterPki>[0], now = new Date()) {
  const verdict = path.join(inventory.dir, PKI_VERDICT_FILE);
  const before = await readFile(verdict, 'utf8').catch(() => undefined);
  const pki = await loadClusterPki(inventory, { dryRun: false, now });
  const after = await readFile(verdict, 'utf8').catch(() => undefined);
  return { pki, remembered: before !== undefined && before === after && pki.report.firstExpiry === undefined };
}

test('a check that changed nothing is remembered, and the next run reuses it with the same files', async (t) => {
  const inventory = await loadTestInventory(t);
  const first = await load(inventory);
  assert.ok(first.pki.report.created.includes('ca'));
  await assert.rejects(readFile(path.join(inventory.dir, PKI_VERDICT_FILE)), /ENOENT/, 'a check that wrote files is not remembered');
  const second = await load(inventory);
  assert.equal(second.remembered, false, 'the first steady check runs in full');
  assert.ok(second.pki.report.firstExpiry);
  const third = await load(inventory);
  assert.equal(third.remembered, true);
  assert.deepEqual(third.pki.report.reused, second.pki.report.reused);
  assert.deepEqual(third.pki.report.warnings, []);
  assert.deepEqual(
    third.pki.filesForHost('node1', ['etcd']).map((f) => [f.path, f.content.toString('base64')]),
    second.pki.filesForHost('node1', ['etcd']).map((f) => [f.path, f.content.toString('base64')]),
  );
});

test('a changed byte, mode, directory mode or plan, or the clock past the first renewal, brings the full check back', async (t) => {
  const inventory = await loadTestInventory(t);
  const pkiDir = path.join(inventory.dir, 'pki');
  await load(inventory);
  await load(inventory);
  assert.equal((await load(inventory)).remembered, true);

  // Another certificate in its place: the full check reissues it.
  await copyFile(path.join(pkiDir, 'admin.crt'), path.join(pkiDir, 'apiserver.crt'));
  const damaged = await load(inventory);
  assert.equal(damaged.remembered, false);
  assert.ok(damaged.pki.report.reissued.some((r) => r.name === 'apiserver'));
  await load(inventory);
  assert.equal((await load(inventory)).remembered, true);

  await chmod(path.join(pkiDir, 'ca.key'), 0o644);
  const opened = await load(inventory);
  assert.equal(opened.remembered, false);
  assert.deepEqual(opened.pki.report.modesFixed, ['ca.key']);
  await load(inventory);

  await chmod(path.join(pkiDir, 'etcd'), 0o755);
  assert.equal((await load(inventory)).remembered, false);
  await load(inventory);
  assert.equal((await load(inventory)).remembered, true);

  const grown = await loadTestInventory(t, { workers: 1 });
  await rm(grown.dir, { recursive: true, force: true });
  const moved = { ...grown, dir: inventory.dir };
  assert.equal((await load(moved)).remembered, false, 'another plan (a new node) is checked in full');

  await load(inventory);
  await load(inventory);
  assert.equal((await load(inventory, new Date(Date.now() + 360 * DAY))).remembered, false, 'within 30 days of an expiry');
  assert.equal((await load(inventory, new Date(Date.now() - DAY))).remembered, false, 'a clock before the check');
});
