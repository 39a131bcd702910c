/** The other members' client ports probed before `etcdctl member list`: URL parsing and the probe's answer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostAndPort, parseReachable } from '../../../src/roles/etcd/reachable.js';

const ENDPOINTS = ['https://10.0.0.2:2379', 'https://[fd00::3]:2379', 'https://etcd3.example:12379'];

test('client URLs become a host and port bash can connect to (IPv6 without brackets)', () => {
  assert.deepEqual(ENDPOINTS.map(hostAndPort), [
    ['10.0.0.2', '2379'],
    ['fd00::3', '2379'],
    ['etcd3.example', '12379'],
  ]);
  assert.deepEqual(hostAndPort('https://10.0.0.9'), ['10.0.0.9', '443']);
});

test('only the endpoints that accepted a connection are asked; none on a new cluster', () => {
  assert.deepEqual(parseReachable('open 2\nopen 0\n', ENDPOINTS), [ENDPOINTS[0], ENDPOINTS[2]]);
  assert.deepEqual(parseReachable('', ENDPOINTS), []);
});

test('a host without bash cannot tell: every endpoint is asked, as without the probe', () => {
  assert.deepEqual(parseReachable('all\n', ENDPOINTS), ENDPOINTS);
});
