import { test } from 'node:test';
import assert from 'node:assert/strict';
import { knownHostsName } from '../../../src/ssh/known-hosts.js';

// known_hosts files read and written alongside OpenSSH's ssh-keygen: test/integration/ssh/known-hosts.test.ts.

test('names: bare address on port 22, [address]:port otherwise, lower-cased', () => {
  assert.equal(knownHostsName('10.0.0.1', 22), '10.0.0.1');
  assert.equal(knownHostsName('Node1.Example', 2222), '[node1.example]:2222');
});
