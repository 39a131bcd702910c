import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_HOSTS,
  MAX_INTERFACE_NAME,
  hostAddress,
  hostNamespace,
  hostNamespacePattern,
  labNamespace,
  machineName,
  validateHostCount,
  validateLabName,
  vethName,
} from '../../../src/lab/names.js';

test('lab names: a lowercase letter, then up to 11 of [a-z0-9-]', () => {
  for (const ok of ['a', 'lab', 'e2e-keys', 'abcdefghijkl']) assert.equal(validateLabName(ok), ok);
  for (const bad of ['', 'Lab', '1lab', '-lab', 'abcdefghijklm', 'a_b', 'a.b', 'a b']) {
    assert.throws(() => validateLabName(bad), /is not a valid lab name/, bad);
  }
});

test('host counts from 1 to 50', () => {
  assert.equal(validateHostCount(1), 1);
  assert.equal(validateHostCount(50), 50);
  for (const bad of [0, 51, 2.5, Number.NaN]) assert.throws(() => validateHostCount(bad), /--hosts must be a whole number from 1 to 50/);
});

test('addresses start at .11; interface names fit the kernel limit for every host', () => {
  assert.equal(hostAddress(1), '10.213.0.11');
  assert.equal(hostAddress(MAX_HOSTS), '10.213.0.60');
  for (let i = 1; i <= MAX_HOSTS; i++) assert.ok(vethName(i).length <= MAX_INTERFACE_NAME);
});

test('no lab namespace can be another lab host namespace, machine names are unique across labs', () => {
  assert.equal(labNamespace('lab'), 'kprov-lab');
  assert.equal(hostNamespace('lab', 1), 'kprov-lab.node1');
  assert.notEqual(labNamespace('a-node1'), hostNamespace('a', 1));
  assert.equal(machineName('lab', 2), 'lab-node2');
  const machines = new Set<string>();
  for (const lab of ['a', 'a-node1', 'a-node', 'lab']) for (let i = 1; i <= 12; i++) machines.add(machineName(lab, i));
  assert.equal(machines.size, 4 * 12);
});

test('the host namespace pattern matches only that lab hosts', () => {
  const p = hostNamespacePattern('a-b');
  assert.ok(p.test('kprov-a-b.node7'));
  assert.ok(!p.test('kprov-a-b'));
  assert.ok(!p.test('kprov-a-bc.node1'));
  assert.ok(!p.test('kprov-axb.node1'));
});
